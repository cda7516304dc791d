import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';

const toBoolean = ({ value }: { value: unknown }) =>
  value === 'true' ? true : value === 'false' ? false : value;
const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;

/** `GET /agents?skill=&tag=&q=&inputMode=&outputMode=&healthy=&page=&pageSize=` */
export class DiscoveryQuery {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  skill?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(100)
  tag?: string;

  /** Full-text search over name, description and skills. */
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  q?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(100)
  inputMode?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(100)
  outputMode?: string;

  /** Only healthy instances (default); `false` lists every instance with its status. */
  @ApiPropertyOptional()
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean()
  healthy?: boolean;

  @ApiPropertyOptional()
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  page?: number;

  /** Instance ids to leave out (comma-separated), e.g. ones a caller just failed to reach. */
  @ApiPropertyOptional()
  @IsOptional()
  @Matches(/^[0-9a-f-]{36}(,[0-9a-f-]{36}){0,49}$/i, {
    message: 'exclude must list instance ids, comma-separated',
  })
  exclude?: string;

  /** `summary` (default): name, description and skills of each agent; `full`: its whole card. */
  @ApiPropertyOptional({ enum: ['summary', 'full'] })
  @IsOptional()
  @IsIn(['summary', 'full'])
  view?: 'summary' | 'full';

  @ApiPropertyOptional()
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  pageSize?: number;
}
