import { CurrentAuth, type AuthContext } from '@app/security';
import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  Header,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  Put,
  Query,
  Res,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DiscoveryQuery } from '../discovery/discovery.query.js';
import { DiscoveryService, type DiscoveredInstance } from '../discovery/discovery.service.js';
import { RegisterAgentDto } from './register-agent.dto.js';
import type { RegistrationView } from './registration.view.js';
import { RegistrationsService } from './registrations.service.js';

const uuid = new ParseUUIDPipe({ version: '4' });

@Controller('agents')
export class RegistrationsController {
  constructor(
    private readonly registrations: RegistrationsService,
    private readonly discovery: DiscoveryService,
  ) {}

  /** Registers an instance by its card URL (the registry fetches the card) or with its card; 201 new, 200 again. */
  @Post()
  async register(
    @CurrentAuth() auth: AuthContext,
    @Body() body: RegisterAgentDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RegistrationView> {
    const { registration, created } = await this.registrations.register(auth, body);
    void reply.status(created ? 201 : 200);
    return registration;
  }

  /** Discovery: the agents the caller may use, healthy instances first and fastest first. */
  @Get()
  @Header('content-type', 'application/json; charset=utf-8')
  discover(
    @CurrentAuth() auth: AuthContext,
    @Query() query: DiscoveryQuery,
  ): Buffer | Promise<Buffer> {
    return this.discovery.discoverJson(auth, query);
  }

  /** One healthy instance for a skill, for callers that want just one. */
  @Get('resolve')
  resolve(
    @CurrentAuth() auth: AuthContext,
    @Query('skill') skill: string | undefined,
    @Query('exclude') exclude: string | undefined,
  ): Promise<DiscoveredInstance & { name: string }> {
    if (exclude !== undefined && !/^[0-9a-f-]{36}(,[0-9a-f-]{36}){0,49}$/i.test(exclude)) {
      throw new BadRequestException('exclude must list instance ids, comma-separated');
    }
    return this.discovery.resolve(auth, skill ?? '', exclude);
  }

  @Get(':id')
  get(@CurrentAuth() auth: AuthContext, @Param('id', uuid) id: string): Promise<RegistrationView> {
    return this.registrations.get(auth, id);
  }

  @Put(':id/heartbeat')
  heartbeat(
    @CurrentAuth() auth: AuthContext,
    @Param('id', uuid) id: string,
  ): Promise<RegistrationView> {
    return this.registrations.heartbeat(auth, id);
  }

  @Delete(':id')
  @HttpCode(204)
  async deregister(@CurrentAuth() auth: AuthContext, @Param('id', uuid) id: string): Promise<void> {
    await this.registrations.deregister(auth, id);
  }
}
