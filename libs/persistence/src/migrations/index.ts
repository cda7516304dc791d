import type { MigrationInterface } from 'typeorm';
import { Foundation1795514683627 } from './1795514683627-Foundation.js';
import { A2aTasks1795515690961 } from './1795515690961-A2aTasks.js';
import { AgentRegistrations1795517673236 } from './1795517673236-AgentRegistrations.js';
import { WorkflowDefinitions1795520214946 } from './1795520214946-WorkflowDefinitions.js';
import { WorkflowRuns1795520382413 } from './1795520382413-WorkflowRuns.js';
import { StepRunResume1795521433898 } from './1795521433898-StepRunResume.js';
import { StepRunCallContext1795600000000 } from './1795600000000-StepRunCallContext.js';
import { SigningKeys1795700000000 } from './1795700000000-SigningKeys.js';
import { TaskEvents1795800000000 } from './1795800000000-TaskEvents.js';
import { RunRemainingSteps1795900000000 } from './1795900000000-RunRemainingSteps.js';
import { TaskRetention1796000000000 } from './1796000000000-TaskRetention.js';
import { ActiveStepIndexes1796100000000 } from './1796100000000-ActiveStepIndexes.js';
import { RunListingIndex1796200000000 } from './1796200000000-RunListingIndex.js';
import { TaskEventRuns1796300000000 } from './1796300000000-TaskEventRuns.js';

/** Every migration, oldest first; generated ones are added here by hand. */
export const MIGRATIONS: Array<new () => MigrationInterface> = [
  Foundation1795514683627,
  A2aTasks1795515690961,
  AgentRegistrations1795517673236,
  WorkflowDefinitions1795520214946,
  WorkflowRuns1795520382413,
  StepRunResume1795521433898,
  StepRunCallContext1795600000000,
  SigningKeys1795700000000,
  TaskEvents1795800000000,
  RunRemainingSteps1795900000000,
  TaskRetention1796000000000,
  ActiveStepIndexes1796100000000,
  RunListingIndex1796200000000,
  TaskEventRuns1796300000000,
];
