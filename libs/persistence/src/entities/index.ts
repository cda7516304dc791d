import { A2aPushConfigEntity } from './a2a-push-config.entity.js';
import { A2aTaskEntity } from './a2a-task.entity.js';
import { A2aTaskEventEntity } from './a2a-task-event.entity.js';
import { AgentRegistrationEntity } from './agent-registration.entity.js';
import { ApiKeyEntity } from './api-key.entity.js';
import { SigningKeyEntity } from './signing-key.entity.js';
import { TenantEntity } from './tenant.entity.js';
import { StepRunEntity } from './step-run.entity.js';
import { WorkflowDefinitionEntity } from './workflow-definition.entity.js';
import { WorkflowRunEntity } from './workflow-run.entity.js';

export { A2aPushConfigEntity } from './a2a-push-config.entity.js';
export { A2aTaskEntity } from './a2a-task.entity.js';
export { A2aTaskEventEntity } from './a2a-task-event.entity.js';
export { AgentRegistrationEntity, RegistrationStatus } from './agent-registration.entity.js';
export { ApiKeyEntity, ApiKeyRole } from './api-key.entity.js';
export { SigningKeyEntity } from './signing-key.entity.js';
export { TenantEntity } from './tenant.entity.js';
export { StepRunEntity, StepRunStatus } from './step-run.entity.js';
export { WorkflowDefinitionEntity } from './workflow-definition.entity.js';
export { WorkflowRunEntity, WorkflowRunStatus } from './workflow-run.entity.js';

/** Every entity of the platform; the DataSource and the drift check both use this list. */
export const ENTITIES = [
  TenantEntity,
  ApiKeyEntity,
  A2aTaskEntity,
  A2aTaskEventEntity,
  A2aPushConfigEntity,
  AgentRegistrationEntity,
  WorkflowDefinitionEntity,
  WorkflowRunEntity,
  StepRunEntity,
  SigningKeyEntity,
];
