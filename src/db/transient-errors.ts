/**
 * Which database errors are worth retrying: the connection or the server's state, not the
 * query. Read from the shapes Prisma 7 and its driver adapters throw (recorded in
 * test/engine/leases.test.ts), and the drivers' own for statements sent without Prisma,
 * without importing either.
 */

// Prisma error codes that mean the same query will fail again (constraint, not found,
// bad value…); anything else — connection refused or dropped, pool or transaction
// timeouts (P1xxx, P2024, P2028, P2034), driver errors without a code — may pass later.
const PERMANENT_PRISMA_CODES = /^P20(0\d|1\d|2[0-35-7]|3[0-3])$/;

// A raw statement's failure comes as P2010 ("Raw query failed") whatever its cause, so the
// driver adapter's own cause decides: the connection or the server's state, or the query.
const TRANSIENT_ADAPTER_KINDS = new Set([
  'ConnectionClosed',
  'DatabaseNotReachable',
  'SocketTimeout',
  'TlsConnectionError',
  'TooManyConnections',
  'TransactionAlreadyClosed',
  'TransactionWriteConflict',
]);
// SQLSTATE classes 08 (connection), 53 (insufficient resources), 57P01–03 (server shutting
// down or starting), 40001 and 40P01 (serialization failure, deadlock).
const TRANSIENT_SQLSTATE = /^(08|53|57P0[1-3]|40001$|40P01$)/;

interface AdapterCause {
  kind?: unknown;
  originalCode?: unknown;
  code?: unknown;
}

function adapterCause(error: object): AdapterCause | undefined {
  const { name, cause, meta } = error as {
    name?: unknown;
    cause?: AdapterCause;
    meta?: { driverAdapterError?: { cause?: AdapterCause } };
  };
  if (name === 'DriverAdapterError') return cause;
  return meta?.driverAdapterError?.cause;
}

/**
 * The SQLSTATE of an error the database itself raised through the driver (pg's and PGlite's
 * DatabaseError: a five-character `code` beside a `severity`), for the statements that skip
 * Prisma (Database.query); undefined for anything else.
 */
export function sqlStateOf(error: unknown): string | undefined {
  if (!error || typeof error !== 'object') return undefined;
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  return typeof severity === 'string' && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)
    ? code
    : undefined;
}

/** True when a database error is worth retrying (the connection, not the query). */
export function isTransientDbError(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const sqlState = sqlStateOf(error);
  if (sqlState) return TRANSIENT_SQLSTATE.test(sqlState);
  const cause = adapterCause(error);
  if (cause) {
    const sqlState = String(cause.originalCode ?? cause.code ?? '');
    return TRANSIENT_ADAPTER_KINDS.has(String(cause.kind)) || TRANSIENT_SQLSTATE.test(sqlState);
  }
  const { name, code } = error as { name?: unknown; code?: unknown };
  if (name === 'PrismaClientValidationError') return false;
  if (typeof code === 'string' && PERMANENT_PRISMA_CODES.test(code)) return false;
  return true;
}

/**
 * True for an error the database or its client raised (Prisma's error classes, a driver
 * adapter's error, a Prisma error code). Its text names tables, columns and values: fit for
 * the logs, not for a card.
 */
export function isDatabaseError(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  if (sqlStateOf(error)) return true;
  const { name, code } = error as { name?: unknown; code?: unknown };
  if (typeof name === 'string' && (name.startsWith('PrismaClient') || name === 'DriverAdapterError'))
    return true;
  return typeof code === 'string' && /^P\d{4}$/.test(code);
}
