// Writes the published JSON Schema of the result document from the zod schema.
import { writeFileSync, mkdirSync } from 'node:fs';
import { z } from 'zod';
import { AnalysisResult, SCHEMA_VERSION } from '@sync-analyzer/engine';

const schema = {
  $id: `https://sync-analyzer.local/schemas/analysis-result-${SCHEMA_VERSION}.json`,
  title: 'Sync Analyzer analysis result',
  ...z.toJSONSchema(AnalysisResult, { target: 'draft-2020-12' }),
};
mkdirSync('schemas', { recursive: true });
writeFileSync('schemas/analysis-result.schema.json', JSON.stringify(schema, null, 2) + '\n');
console.log(`wrote schemas/analysis-result.schema.json (schema_version ${SCHEMA_VERSION})`);
