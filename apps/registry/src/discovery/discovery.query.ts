import { Transform } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

const toBoolean = ({ value }: { value: unknown }) =>
  value === 'true' ? true : value === 'false' ? false : value;
const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;

/** `GET /agents?skill=&tag=&q=&inputMode=&outputMode=&healthy=&page=&pageSize=` */
export class DiscoveryQuery {
  @IsOptional()
  @IsString()
  @MaxLength(200)
  skill?: string;

  @IsOptional()
  @IsString()
  @MaxLength(100)
  tag?: string;

  /** Full-text search over name, description and skills. */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  q?: string;

  @IsOptional()
  @IsString()
  @MaxLength(100)
  inputMode?: string;

  @IsOptional()
  @IsString()
  @MaxLength(100)
  outputMode?: string;

  /** Only healthy instances (default); `false` lists every instance with its status. */
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean()
  healthy?: boolean;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  page?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  pageSize?: number;
}
