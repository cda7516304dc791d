import { CurrentAuth, type AuthContext } from '@app/security';
import { Body, Controller, Get, Param, ParseIntPipe, Put, Query } from '@nestjs/common';
import { WorkflowNamePipe } from './workflow-name.pipe.js';
import { WorkflowsService, type StoredWorkflow } from './workflows.service.js';

/** Workflow definitions, in JSON or YAML (`Content-Type: application/yaml`). */
@Controller('workflows')
export class WorkflowsController {
  constructor(private readonly workflows: WorkflowsService) {}

  /** Validates and stores the next version of a workflow. */
  @Put(':name')
  save(
    @CurrentAuth() auth: AuthContext,
    @Param('name') name: string,
    @Body() body: unknown,
  ): Promise<StoredWorkflow> {
    return this.workflows.save(auth, name, body);
  }

  @Get()
  async list(@CurrentAuth() auth: AuthContext): Promise<{ workflows: StoredWorkflow[] }> {
    return { workflows: await this.workflows.list(auth) };
  }

  @Get(':name')
  get(
    @CurrentAuth() auth: AuthContext,
    @Param('name', WorkflowNamePipe) name: string,
    @Query('version', new ParseIntPipe({ optional: true })) version?: number,
  ): Promise<StoredWorkflow> {
    return this.workflows.get(auth, name, version);
  }
}
