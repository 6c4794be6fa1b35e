// Writes the published JSON Schema of the result document from the zod schema.
import { writeFileSync, mkdirSync } from 'node:fs';
import { z } from 'zod';
import { AllStreamsResult, AnalysisResult, SCHEMA_VERSION } from '@sync-analyzer/engine';

mkdirSync('schemas', { recursive: true });
for (const [name, title, type] of [
  ['analysis-result', 'Sync Analyzer analysis result', AnalysisResult],
  ['all-streams-result', 'Sync Analyzer analysis of every dub audio stream', AllStreamsResult],
] as const) {
  const schema = {
    $id: `https://sync-analyzer.local/schemas/${name}-${SCHEMA_VERSION}.json`,
    title,
    ...z.toJSONSchema(type, { target: 'draft-2020-12' }),
  };
  writeFileSync(`schemas/${name}.schema.json`, JSON.stringify(schema, null, 2) + '\n');
  console.log(`wrote schemas/${name}.schema.json (schema_version ${SCHEMA_VERSION})`);
}
