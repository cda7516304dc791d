import { Module, type DynamicModule } from '@nestjs/common';
import { WorkflowsController } from './workflows.controller.js';
import { WorkflowsService } from './workflows.service.js';
import { YamlBodyParser } from './yaml-body.js';

@Module({})
export class WorkflowsModule {
  /** The definitions store, with the `/workflows` API when `api` is set. */
  static register(options: { api: boolean }): DynamicModule {
    return {
      module: WorkflowsModule,
      controllers: options.api ? [WorkflowsController] : [],
      providers: [WorkflowsService, ...(options.api ? [YamlBodyParser] : [])],
      exports: [WorkflowsService],
    };
  }
}
