import { Module } from '@nestjs/common';
import { WorkflowsController } from './workflows.controller.js';
import { WorkflowsService } from './workflows.service.js';
import { YamlBodyParser } from './yaml-body.js';

@Module({
  controllers: [WorkflowsController],
  providers: [WorkflowsService, YamlBodyParser],
  exports: [WorkflowsService],
})
export class WorkflowsModule {}
