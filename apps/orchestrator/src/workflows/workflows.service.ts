import { PreparedStatement, queryRows } from '@app/persistence';
import type { AuthContext } from '@app/security';
import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { parseWorkflow, WorkflowInvalid, type WorkflowDefinition } from './workflow-definition.js';

const WORKFLOW = new PreparedStatement<WorkflowRow>(
  'orchestrator.workflow',
  `SELECT name, version, definition, created_at FROM workflow_definitions
    WHERE tenant_id = $1 AND name = $2 AND ($3::int IS NULL OR version = $3)
    ORDER BY version DESC LIMIT 1`,
);

export interface StoredWorkflow {
  readonly name: string;
  readonly version: number;
  readonly definition: WorkflowDefinition;
  readonly createdAt: string;
}

interface WorkflowRow {
  name: string;
  version: number;
  definition: WorkflowDefinition;
  created_at: Date;
}

const UNIQUE_VIOLATION = '23505';

const toStored = (row: WorkflowRow): StoredWorkflow => ({
  name: row.name,
  version: row.version,
  definition: row.definition,
  createdAt: row.created_at.toISOString(),
});

/** Workflow definitions of each tenant, validated on save and versioned: a save adds the next version. */
@Injectable()
export class WorkflowsService {
  constructor(private readonly dataSource: DataSource) {}

  async save(auth: AuthContext, name: string, raw: unknown): Promise<StoredWorkflow> {
    let definition: WorkflowDefinition;
    try {
      definition = parseWorkflow(raw, name);
    } catch (error) {
      if (error instanceof WorkflowInvalid) {
        throw new BadRequestException({ message: [...error.problems] });
      }
      throw error;
    }
    for (let attempt = 0; ; attempt++) {
      try {
        const rows = await queryRows<WorkflowRow>(
          this.dataSource,
          `INSERT INTO workflow_definitions (tenant_id, name, version, definition)
           SELECT $1::varchar, $2::varchar, COALESCE(MAX(version), 0) + 1, $3::jsonb
           FROM workflow_definitions WHERE tenant_id = $1::varchar AND name = $2::varchar
           RETURNING name, version, definition, created_at`,
          [auth.tenantId, name, definition],
        );
        return toStored(rows[0]);
      } catch (error) {
        // Two saves of one workflow at once: the later one takes the next number.
        if (
          (error as { driverError?: { code?: string } }).driverError?.code !== UNIQUE_VIOLATION ||
          attempt >= 3
        )
          throw error;
      }
    }
  }

  /** The latest version, or the one asked for. */
  async get(auth: AuthContext, name: string, version?: number): Promise<StoredWorkflow> {
    const rows = await WORKFLOW.rows(this.dataSource, [auth.tenantId, name, version ?? null]);
    if (rows.length === 0)
      throw new NotFoundException(`No workflow "${name}"${version ? ` version ${version}` : ''}`);
    return toStored(rows[0]);
  }

  /** The latest version of each of the tenant's workflows. */
  async list(auth: AuthContext): Promise<StoredWorkflow[]> {
    const rows = await queryRows<WorkflowRow>(
      this.dataSource,
      `SELECT DISTINCT ON (name) name, version, definition, created_at FROM workflow_definitions
       WHERE tenant_id = $1 ORDER BY name, version DESC`,
      [auth.tenantId],
    );
    return rows.map(toStored);
  }
}
