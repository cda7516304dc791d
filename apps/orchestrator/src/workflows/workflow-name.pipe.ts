import { Injectable, NotFoundException, type PipeTransform } from '@nestjs/common';
import { WORKFLOW_NAME } from './workflow-definition.js';

/** A workflow named in a path: one that cannot be a workflow's name is simply not found. */
@Injectable()
export class WorkflowNamePipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!WORKFLOW_NAME.test(value))
      throw new NotFoundException(`No workflow "${value.slice(0, 64)}"`);
    return value;
  }
}
