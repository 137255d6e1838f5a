// useradm routes: Basic-auth login answering a bare JWT (application/jwt), and personal access tokens
// (create, list, revoke) usable as management Bearer tokens.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { SimContext } from './context.js'
import { PATHS, decodeJson, isJsonContentType, isPlainObject, rawBody, sendError } from './http-util.js'
import type { TokenUser } from './tokens.js'

function basicCredentials (authorization: string | undefined): { email: string, password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '')
  if (m?.[1] === undefined) return undefined
  const text = Buffer.from(m[1], 'base64').toString('utf8')
  const colon = text.indexOf(':')
  return colon < 0 ? undefined : { email: text.slice(0, colon), password: text.slice(colon + 1) }
}

async function login (ctx: SimContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const body = rawBody(request)
  if (body.length > 0 && !isJsonContentType(request.headers['content-type'])) {
    return sendError(reply, 415, 'unsupported content type: expected application/json')
  }
  const creds = basicCredentials(request.headers.authorization)
  if (creds === undefined) return sendError(reply, 401, 'invalid or missing auth header')
  let noExpiry = false
  if (body.length > 0) {
    const decoded = decodeJson(body)
    if (!decoded.ok || !isPlainObject(decoded.value)) {
      return sendError(reply, 400, `failed to decode request body: ${decoded.ok ? 'expected an object' : decoded.message}`)
    }
    noExpiry = decoded.value.no_expiry === true
  }
  const user = ctx.users.check(creds.email, creds.password)
  if (user === undefined) return sendError(reply, 401, 'unauthorized')
  return reply.code(200).type('application/jwt').send(ctx.tokens.issueUser(user, noExpiry))
}

/** The user behind a management token that is not itself a PAT (PATs cannot manage PATs). */
function sessionUser (ctx: SimContext, request: FastifyRequest): TokenUser | undefined {
  const claims = ctx.tokens.checkManagement(request.headers.authorization)
  if (claims === undefined || claims['mender.pat'] === true) return undefined
  return ctx.users.byUserId(String(claims.sub))
}

async function createPat (ctx: SimContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const user = sessionUser(ctx, request)
  if (user === undefined) return sendError(reply, 401, 'unauthorized')
  const decoded = decodeJson(rawBody(request))
  const value = decoded.ok ? decoded.value : undefined
  if (!isPlainObject(value) || typeof value.name !== 'string' || value.name === '') {
    return sendError(reply, 400, 'failed to decode request body: name is required')
  }
  const expiresIn = value.expires_in
  if (expiresIn !== undefined && (!Number.isInteger(expiresIn) || (expiresIn as number) < 0 ||
    (expiresIn as number) > 31536000)) {
    return sendError(reply, 400, 'invalid expires_in')
  }
  if (ctx.tokens.patNameTaken(user.id, value.name)) return sendError(reply, 409, 'Personal Access Token with the same name already exists')
  const token = ctx.tokens.issuePat(user, value.name, expiresIn as number | undefined)
  return reply.code(200).type('application/jwt').send(token)
}

export function registerLoginRoutes (app: FastifyInstance, ctx: SimContext): void {
  app.post(PATHS.login, async (request, reply) => await login(ctx, request, reply))
  app.post(PATHS.tokens, async (request, reply) => await createPat(ctx, request, reply))
  app.get(PATHS.tokens, async (request, reply) => {
    const user = sessionUser(ctx, request)
    if (user === undefined) return sendError(reply, 401, 'unauthorized')
    return ctx.tokens.patsOf(user.id).map((p) => ({
      id: p.id, name: p.name, created_ts: p.createdTs, expiration_date: p.expirationDate ?? null
    }))
  })
  app.delete<{ Params: { id: string } }>(`${PATHS.tokens}/:id`, async (request, reply) => {
    const user = sessionUser(ctx, request)
    if (user === undefined) return sendError(reply, 401, 'unauthorized')
    ctx.tokens.revokePat(user.id, request.params.id)
    return reply.code(204).send()
  })
}
