import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { FastifySchemaCompiler } from 'fastify';
import type { TSchema } from 'typebox';

const INTEGER_TEXT = /^-?\d{1,16}$/;

/**
 * TypeBox validation as the type provider does it (query strings converted to the schema's types
 * first), except that an integer field must be written as one: conversion alone would turn
 * `limit=1.5` into 1 and answer a question nobody asked.
 */
export const strictValidatorCompiler: FastifySchemaCompiler<TSchema> = (route) => {
  const validate = TypeBoxValidatorCompiler(route);
  if (route.httpPart === 'body') return validate;
  const properties = (route.schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {};
  const integers = Object.entries(properties)
    .filter(([, s]) => s.type === 'integer')
    .map(([name]) => name);
  if (integers.length === 0) return validate;
  return (value) => {
    const raw = value as Record<string, unknown> | null | undefined;
    for (const name of integers) {
      const given = raw?.[name];
      if (typeof given === 'string' && !INTEGER_TEXT.test(given)) {
        return {
          error: [
            {
              instancePath: `/${name}`,
              keyword: 'type',
              schemaPath: `#/properties/${name}/type`,
              params: {},
              message: 'must be an integer',
            },
          ],
        };
      }
    }
    return validate(value);
  };
};
