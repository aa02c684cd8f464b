/** The public endpoints: GetServiceInfo and the auth instructions it links to. */
import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../../wes/services.js';
import { baseUrlOf, type LinkOptions } from '../base-url.js';

export interface ServiceInfoRoutesOptions {
  readonly services: Services;
  readonly links: LinkOptions;
}

const AUTH_INSTRUCTIONS = `wes-server authentication

Every endpoint except /service-info needs an API key sent as
  Authorization: Bearer <api key>

The first start of "wes serve" creates the user "admin" and prints its key once.
An administrator creates more users and keys on the server machine:
  wes user add <name>
  wes key create <name>
and revokes them:
  wes key list <name>
  wes key revoke <key id or prefix>
  wes user disable <name>
`;

export const serviceInfoRoutes: FastifyPluginAsync<ServiceInfoRoutesOptions> = async (app, { services, links }) => {
  app.get('/service-info', async (request) => services.serviceInfo(baseUrlOf(request, links)));
  app.get('/auth-instructions', async (_request, reply) => reply.type('text/plain; charset=utf-8').send(AUTH_INSTRUCTIONS));
};
