/** Provider health: rolling figures, circuit breakers (the engine's HealthGate), words and ranking. */
export {
  type BreakerSettings,
  CircuitBreaker,
  type CircuitSnapshot,
  type CircuitState,
  COUNTED_FAILURE_KINDS,
} from './breaker.js';
export {
  DEGRADED_BELOW,
  describeHealth,
  type HealthStatus,
  healthLabel,
  healthStatus,
  type RankedAlternative,
  rankAlternatives,
  rowFor,
  shortHealth,
} from './describe.js';
export { createHealthMonitor, HealthMonitor, type HealthMonitorOptions } from './monitor.js';
export { type HealthRow, type HealthWindow, providerHealth, summarise } from './stats.js';
