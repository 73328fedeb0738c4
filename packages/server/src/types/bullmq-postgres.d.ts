// BullMQ 6 ships its PostgreSQL backend without an `exports` map, and its ESM build (declarations included) uses
// extensionless imports that Node and NodeNext resolution cannot follow. The hub loads the CommonJS build; these
// are the two members it uses, typed as loosely as it uses them.
declare module 'bullmq/dist/cjs/postgres/index.js' {
  /** The backend factory handed to Queue and Worker constructors as their last argument. */
  export const createPostgresBackend: unknown;
  /** Creates or upgrades BullMQ's schema; returns the schema version. */
  export function runMigrations(client: unknown, schema?: string): Promise<number>;
}
