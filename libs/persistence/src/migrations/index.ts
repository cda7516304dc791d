import type { MigrationInterface } from 'typeorm';
import { Foundation1795514683627 } from './1795514683627-Foundation.js';

/** Every migration, oldest first; generated ones are added here by hand. */
export const MIGRATIONS: Array<new () => MigrationInterface> = [Foundation1795514683627];
