#!/usr/bin/env node
// Launcher: loads the TypeScript sources through tsx's loader, then runs the CLI.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
