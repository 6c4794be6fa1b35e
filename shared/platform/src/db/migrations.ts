// Schema migrations as code (no file globbing, so they run the same under tsx and in any
// bundle): one ordered list, applied through knex's migrationSource on SQLite and PostgreSQL.
//
// Conventions: timestamps are ISO 8601 UTC text (always written via Date#toISOString, so
// lexicographic order is time order on both databases); JSON documents are text; measured
// values are double precision (PostgreSQL `double precision`, SQLite REAL) so nothing is
// rounded; booleans are PostgreSQL boolean / SQLite 0-1 integers.
import type { Knex } from 'knex';

export interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

const initial: Migration = {
  name: '0001_initial',
  async up(knex) {
    await knex.schema.createTable('batches', (t) => {
      t.text('id').primary();
      t.text('name').nullable();
      t.text('status').notNullable();
      t.text('priority').notNullable();
      t.integer('total').notNullable();
      t.text('webhook_url').nullable();
      t.text('webhook_status').nullable();
      t.integer('webhook_attempts').notNullable().defaultTo(0);
      t.text('webhook_last_error').nullable();
      t.text('created_at').notNullable();
      t.text('finished_at').nullable();
      t.text('updated_at').notNullable();
      t.index(['created_at'], 'batches_created_at_idx');
      t.index(['status', 'webhook_status'], 'batches_status_webhook_idx');
    });

    // analyses and repairs reference each other: analyses is created first without its
    // repair_id key, which is added once repairs exists (below).
    await knex.schema.createTable('analyses', (t) => {
      t.text('id').primary();
      t.text('status').notNullable();
      t.text('priority').notNullable();
      t.text('master_path').notNullable();
      t.text('dub_path').notNullable();
      // Lower-cased in JS at write time: the file filter is a case-insensitive substring match
      // that behaves the same on both databases (SQLite's lower() folds ASCII only).
      t.text('master_path_lc').notNullable();
      t.text('dub_path_lc').notNullable();
      t.text('options').notNullable();
      t.text('dedupe_key').notNullable();
      t.text('master_fingerprint').notNullable();
      t.text('dub_fingerprint').notNullable();
      t.text('batch_id').nullable().references('id').inTable('batches');
      t.integer('batch_index').nullable();
      t.text('episode').nullable();
      t.text('notes').nullable();
      t.text('repair_id').nullable();
      t.double('progress_percent').notNullable().defaultTo(0);
      t.text('progress_stage').nullable();
      t.integer('attempts').notNullable().defaultTo(0);
      t.text('result').nullable();
      t.text('verdict').nullable();
      t.boolean('match').nullable();
      t.double('offset_seconds').nullable();
      t.double('confidence').nullable();
      t.text('engine_version').nullable();
      t.text('schema_version').nullable();
      t.text('error_code').nullable();
      t.text('error_message').nullable();
      t.text('created_at').notNullable();
      t.text('started_at').nullable();
      t.text('finished_at').nullable();
      t.text('updated_at').notNullable();
      t.index(['status'], 'analyses_status_idx');
      t.index(['verdict'], 'analyses_verdict_idx');
      t.index(['created_at'], 'analyses_created_at_idx');
      t.index(['dedupe_key'], 'analyses_dedupe_key_idx');
      t.index(['batch_id', 'batch_index'], 'analyses_batch_idx');
      t.index(['repair_id'], 'analyses_repair_id_idx');
    });

    await knex.schema.createTable('repairs', (t) => {
      t.text('id').primary();
      t.text('status').notNullable();
      t.text('analysis_id').nullable().references('id').inTable('analyses');
      t.text('dub_path').notNullable();
      t.double('offset_seconds').notNullable();
      t.double('speed_ratio').nullable();
      t.text('options').notNullable();
      t.text('outcome').nullable();
      t.text('output_path').nullable();
      t.text('verification_analysis_id').nullable().references('id').inTable('analyses');
      t.double('progress_percent').notNullable().defaultTo(0);
      t.text('error_code').nullable();
      t.text('error_message').nullable();
      t.text('created_at').notNullable();
      t.text('started_at').nullable();
      t.text('finished_at').nullable();
      t.text('updated_at').notNullable();
      t.index(['status'], 'repairs_status_idx');
      t.index(['created_at'], 'repairs_created_at_idx');
      t.index(['analysis_id'], 'repairs_analysis_id_idx');
    });

    await knex.schema.alterTable('analyses', (t) => {
      t.foreign('repair_id', 'analyses_repair_id_foreign').references('id').inTable('repairs');
    });
  },
  async down(knex) {
    await knex.schema.alterTable('analyses', (t) => {
      t.dropForeign(['repair_id'], 'analyses_repair_id_foreign');
    });
    await knex.schema.dropTable('repairs');
    await knex.schema.dropTable('analyses');
    await knex.schema.dropTable('batches');
  },
};

/** Every migration this build knows, in order. Append only; never edit an applied one. */
export const MIGRATIONS: readonly Migration[] = [initial];

export const migrationSource: Knex.MigrationSource<Migration> = {
  getMigrations: () => Promise.resolve([...MIGRATIONS]),
  getMigrationName: (m) => m.name,
  getMigration: (m) => Promise.resolve(m),
};
