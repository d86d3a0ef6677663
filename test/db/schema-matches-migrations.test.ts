import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

/**
 * The migrations are written by hand (Prisma's schema engine cannot be downloaded here),
 * so this test proves the migrated database is exactly what prisma/schema.prisma
 * describes: tables, columns, types, nullability, defaults, enums, indexes and foreign
 * keys. It reads the schema through Prisma's own parser (prisma-schema-wasm's DMMF).
 */

interface DmmfField {
  name: string;
  kind: 'scalar' | 'object' | 'enum';
  type: string;
  isList: boolean;
  isRequired: boolean;
  isId: boolean;
  isUnique: boolean;
  isUpdatedAt: boolean;
  hasDefaultValue: boolean;
  default?: unknown;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
}
interface Dmmf {
  datamodel: {
    models: { name: string; fields: DmmfField[] }[];
    enums: { name: string; values: { name: string }[] }[];
    indexes: { model: string; type: 'id' | 'unique' | 'normal'; fields: { name: string }[] }[];
  };
}

const require = createRequire(import.meta.url);
const schemaWasm = require('@prisma/prisma-schema-wasm') as { get_dmmf(params: string): string };
const schemaText = readFileSync(new URL('../../prisma/schema.prisma', import.meta.url), 'utf8');
const dmmf = JSON.parse(
  schemaWasm.get_dmmf(JSON.stringify({ prismaSchema: [['schema.prisma', schemaText]] })),
) as Dmmf;
const models = dmmf.datamodel.models;

const SQL_TYPES: Record<string, string> = {
  String: 'text',
  Int: 'integer',
  Boolean: 'boolean',
  DateTime: 'timestamp without time zone',
  Json: 'jsonb',
  // Prisma's Float is DOUBLE PRECISION on PostgreSQL.
  Float: 'double precision',
};
/** Defaults Prisma fills in on the client; the column has none. */
const CLIENT_DEFAULTS = new Set(['cuid', 'uuid', 'nanoid', 'ulid']);

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.close();
});

describe('the migrated database matches schema.prisma', () => {
  it('has exactly the tables of the models', async () => {
    const rows = await db.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'",
    );
    expect(rows.map((r) => r.table_name).sort()).toEqual(models.map((m) => m.name).sort());
  });

  it('has every enum with the same values in the same order', async () => {
    const rows = await db.query<{ typname: string; labels: string[] }>(
      `SELECT t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
         FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname`,
    );
    const actual = Object.fromEntries(rows.map((r) => [r.typname, r.labels]));
    const expected = Object.fromEntries(
      dmmf.datamodel.enums.map((e) => [e.name, e.values.map((v) => v.name)]),
    );
    expect(actual).toEqual(expected);
  });

  for (const model of models) {
    it(`${model.name}: columns, types, nullability and defaults`, async () => {
      const rows = await db.query<{
        column_name: string;
        data_type: string;
        udt_name: string;
        is_nullable: 'YES' | 'NO';
        column_default: string | null;
        datetime_precision: number | null;
      }>(
        `SELECT column_name, data_type, udt_name, is_nullable, column_default, datetime_precision
           FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1`,
        [model.name],
      );
      const actual = Object.fromEntries(
        rows.map((r) => [
          r.column_name,
          {
            type:
              r.data_type === 'USER-DEFINED'
                ? r.udt_name
                : r.data_type === 'ARRAY'
                  ? `${r.udt_name.slice(1)}[]`
                  : r.data_type,
            nullable: r.is_nullable === 'YES',
            hasDefault: r.column_default !== null,
            precision: r.data_type.startsWith('timestamp') ? r.datetime_precision : null,
          },
        ]),
      );
      const expected = Object.fromEntries(
        model.fields
          .filter((f) => f.kind !== 'object')
          .map((f) => {
            const base = f.kind === 'enum' ? f.type : (SQL_TYPES[f.type] ?? `unmapped ${f.type}`);
            const defaultName = (f.default as { name?: string } | undefined)?.name;
            return [
              f.name,
              {
                type: f.isList ? `${base === 'text' ? 'text' : base}[]` : base,
                // Prisma leaves list columns nullable in SQL (NULL reads as []).
                nullable: f.isList || !f.isRequired,
                hasDefault: f.hasDefaultValue && !CLIENT_DEFAULTS.has(defaultName ?? ''),
                precision: f.type === 'DateTime' ? 3 : null,
              },
            ];
          }),
      );
      expect(actual).toEqual(expected);
    });
  }

  it('has every primary key, unique and plain index, named as Prisma names them', async () => {
    const rows = await db.query<{
      table: string;
      index: string;
      unique: boolean;
      primary: boolean;
      columns: string[];
    }>(
      `SELECT t.relname AS table, i.relname AS index, ix.indisunique AS unique, ix.indisprimary AS primary,
              array_agg(a.attname::text ORDER BY k.ord) AS columns
         FROM pg_index ix
         JOIN pg_class t ON t.oid = ix.indrelid
         JOIN pg_class i ON i.oid = ix.indexrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
        WHERE n.nspname = 'public' AND t.relname <> '_prisma_migrations'
        GROUP BY t.relname, i.relname, ix.indisunique, ix.indisprimary`,
    );
    const actual = rows
      .map(
        (r) =>
          `${r.table}.${r.index} ${r.primary ? 'primary' : r.unique ? 'unique' : 'index'} (${r.columns.join(', ')})`,
      )
      .sort();
    const expected = dmmf.datamodel.indexes
      .map((ix) => {
        const cols = ix.fields.map((f) => f.name);
        const name =
          ix.type === 'id'
            ? `${ix.model}_pkey`
            : `${ix.model}_${cols.join('_')}_${ix.type === 'unique' ? 'key' : 'idx'}`;
        const kind = ix.type === 'id' ? 'primary' : ix.type === 'unique' ? 'unique' : 'index';
        return `${ix.model}.${name} ${kind} (${cols.join(', ')})`;
      })
      .sort();
    expect(actual).toEqual(expected);
  });

  it('has every foreign key with its referenced columns and delete rule', async () => {
    const rows = await db.query<{
      name: string;
      table: string;
      columns: string[];
      ref_table: string;
      ref_columns: string[];
      on_delete: string;
    }>(
      `SELECT c.conname AS name, t.relname AS table, rt.relname AS ref_table,
              (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(n, ord)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) AS columns,
              (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY k(n, ord)
                 JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n) AS ref_columns,
              c.confdeltype AS on_delete
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class rt ON rt.oid = c.confrelid
        WHERE c.contype = 'f'`,
    );
    const rule: Record<string, string> = {
      a: 'NoAction',
      r: 'Restrict',
      c: 'Cascade',
      n: 'SetNull',
      d: 'SetDefault',
    };
    const actual = rows
      .map(
        (r) =>
          `${r.name}: ${r.table}(${r.columns}) -> ${r.ref_table}(${r.ref_columns}) on delete ${rule[r.on_delete]}`,
      )
      .sort();
    const expected = models
      .flatMap((m) =>
        m.fields
          .filter((f) => f.kind === 'object' && f.relationFromFields && f.relationFromFields.length > 0)
          .map((f) => {
            // Prisma's default for an optional relation is SetNull, for a required one Restrict.
            const onDelete = f.relationOnDelete ?? (f.isRequired ? 'Restrict' : 'SetNull');
            const from = f.relationFromFields ?? [];
            return `${m.name}_${from.join('_')}_fkey: ${m.name}(${from}) -> ${f.type}(${f.relationToFields}) on delete ${onDelete}`;
          }),
      )
      .sort();
    expect(actual).toEqual(expected);
  });
});
