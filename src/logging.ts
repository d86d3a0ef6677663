import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs (pino), pretty in development. Every line passes through a scrubber that
 * replaces the configured secret values, so a key can never reach a log even when an SDK
 * error or a stray object carries it.
 */
export function createLogger(options: {
  level: string;
  pretty?: boolean;
  secrets?: string[];
  destination?: { write(line: string): void };
}): Logger {
  const scrub = makeScrubber(options.secrets ?? []);
  const out = options.destination ?? process.stdout;
  const stream = { write: (line: string) => out.write(scrub(line)) };
  if (options.pretty && !options.destination) {
    const transport = pino.transport({ target: 'pino-pretty', options: { colorize: true } }) as {
      write(line: string): void;
    };
    return pino({ level: options.level }, { write: (line: string) => transport.write(scrub(line)) });
  }
  return pino({ level: options.level, base: undefined }, stream);
}

/** Replaces every secret (and its JSON-escaped form) with [redacted]. */
export function makeScrubber(secrets: string[]): (text: string) => string {
  const values = [...new Set(secrets.filter((s) => s.length >= 6))].sort((a, b) => b.length - a.length);
  if (values.length === 0) return (text) => text;
  const escaped = values.flatMap((v) => [v, JSON.stringify(v).slice(1, -1)]);
  const pattern = new RegExp(escaped.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  return (text) => text.replace(pattern, '[redacted]');
}

export const silentLogger: Logger = pino({ level: 'silent' });
