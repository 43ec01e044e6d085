import { compileValidator } from '@vmi/contracts';
import type { FastifySchemaCompiler } from 'fastify';
import type { TSchema } from 'typebox';

/**
 * Fastify validates route schemas with the contracts' compiled validators, so a bad body gets the
 * same `VMI_ERR_VALIDATION` error (and path) over HTTP as over NATS.
 */
export const contractsValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema }) => {
  const validator = compileValidator(schema);
  return (data: unknown) => {
    try {
      return { value: validator.parse(data) };
    } catch (error) {
      return { error: error as Error };
    }
  };
};
