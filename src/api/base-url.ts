import type { FastifyRequest } from 'fastify';

/** The server's public base URL for absolute links: configured, or as the client reached us. */
export function baseUrlOf(request: FastifyRequest, publicUrl: string | undefined): string {
  return publicUrl ?? `${request.protocol}://${request.host}`;
}
