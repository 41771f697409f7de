/**
 * DeleteTopics (api key 20), versions 0-6.
 *
 * Behaviour (Kafka's, KRaft mode):
 * - v0-v5 name topics; v6 names each topic either by name or by topic id (not both:
 *   INVALID_REQUEST "You may not specify both topic name and topic id."; neither:
 *   "Neither topic name nor id were specified.").
 * - A name or id given twice: INVALID_REQUEST "Duplicate topic name." / "Duplicate topic
 *   id.", and that topic is not deleted. A name that resolves to an id also given: the
 *   name is answered INVALID_REQUEST.
 * - Unknown name: UNKNOWN_TOPIC_OR_PARTITION; unknown id: UNKNOWN_TOPIC_ID.
 * - delete.topic.enable=false: every topic gets TOPIC_DELETION_DISABLED (v3+) or
 *   INVALID_REQUEST (v0-v2, which predate the code).
 * - Answers carry the topic id (v6) and Kafka's message (v5+). Internal topics may be
 *   deleted (KRaft allows it). The answer comes after the metadata write; the replica
 *   manager deletes the logs on that event.
 *
 * - Authorization (Kafka's ControllerApis.deleteTopics): a topic needs DELETE, else
 *   TOPIC_AUTHORIZATION_FAILED; an unknown name is UNKNOWN_TOPIC_OR_PARTITION only to a
 *   principal that may DESCRIBE it (else TOPIC_AUTHORIZATION_FAILED: existence does not leak).
 *
 * Deliberate difference from Kafka: results keep request order (Kafka shuffles them so a
 * client without Describe permission cannot infer which topics exist from the order; here
 * every answer is built so that it does not tell anyway). timeoutMs is not used: deletion completes before the answer.
 */
import type { DeleteTopicsRequest, DeleteTopicsResponseDeletableTopicResult } from '@tributary/protocol';
import { ApiKey, ErrorCode, errorInfo } from '@tributary/protocol';
import { ZERO_UUID } from '../metadata/kafka-uuid.js';
import type { Handler } from './registry.js';
import { authorized } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';

interface Target { readonly name: string | null; readonly topicId: string }

export const deleteTopicsHandler: Handler<'DeleteTopics'> = {
  apiKey: ApiKey.DeleteTopics,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 6,

  async handle(req, ctx) {
    const version = ctx.header.apiVersion;
    const targets = targetsOf(req, version);
    if (!ctx.broker.config.boolean('delete.topic.enable')) {
      const code = version < 3 ? ErrorCode.INVALID_REQUEST : ErrorCode.TOPIC_DELETION_DISABLED;
      return { throttleTimeMs: 0, responses: targets.map((t) => result(t.name, t.topicId, code, 'Topic deletion is disabled.')) };
    }
    const metadata = ctx.broker.metadata;
    const responses: DeleteTopicsResponseDeletableTopicResult[] = [];
    const nameCount = new Map<string, number>();
    const idCount = new Map<string, number>();
    for (const t of targets) {
      if (t.name !== null && t.topicId === ZERO_UUID) nameCount.set(t.name, (nameCount.get(t.name) ?? 0) + 1);
      if (t.name === null && t.topicId !== ZERO_UUID) idCount.set(t.topicId, (idCount.get(t.topicId) ?? 0) + 1);
    }
    const requestedIds = new Set(idCount.keys());
    // Names (and ids) to delete, in request order, each once.
    const toDelete = new Map<string, string>(); // name -> topic id
    const reported = new Set<string>();
    const once = (key: string, emit: () => void): void => { if (!reported.has(key)) { reported.add(key); emit(); } };
    for (const t of targets) {
      if (t.name === null && t.topicId === ZERO_UUID) {
        responses.push(result(null, ZERO_UUID, ErrorCode.INVALID_REQUEST, 'Neither topic name nor id were specified.'));
      } else if (t.name !== null && t.topicId !== ZERO_UUID) {
        responses.push(result(t.name, t.topicId, ErrorCode.INVALID_REQUEST, 'You may not specify both topic name and topic id.'));
      } else if (t.name !== null) {
        const name = t.name;
        once(`n:${name}`, () => {
          if (nameCount.get(name)! > 1) return void responses.push(result(name, ZERO_UUID, ErrorCode.INVALID_REQUEST, 'Duplicate topic name.'));
          const topic = metadata.topic(name);
          if (!authorized(ctx, AclOperation.DELETE, ResourceType.TOPIC, name) && (topic || !authorized(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, name))) {
            return void responses.push(result(name, ZERO_UUID, ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorInfo(ErrorCode.TOPIC_AUTHORIZATION_FAILED).message));
          }
          if (!topic) return void responses.push(result(name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorInfo(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION).message));
          if (requestedIds.has(topic.topicId)) {
            return void responses.push(result(name, topic.topicId, ErrorCode.INVALID_REQUEST, 'The provided topic name maps to an ID that was already supplied.'));
          }
          toDelete.set(name, topic.topicId);
        });
      } else {
        const id = t.topicId;
        once(`i:${id}`, () => {
          if (idCount.get(id)! > 1) return void responses.push(result(null, id, ErrorCode.INVALID_REQUEST, 'Duplicate topic id.'));
          const topic = metadata.topicById(id);
          if (!topic) return void responses.push(result(null, id, ErrorCode.UNKNOWN_TOPIC_ID, errorInfo(ErrorCode.UNKNOWN_TOPIC_ID).message));
          if (!authorized(ctx, AclOperation.DELETE, ResourceType.TOPIC, topic.name)) {
            return void responses.push(result(null, id, ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorInfo(ErrorCode.TOPIC_AUTHORIZATION_FAILED).message));
          }
          toDelete.set(topic.name, id);
        });
      }
    }
    const manager = ctx.broker.topicManager;
    for (const [name, topicId] of toDelete) {
      const outcome = await manager.deleteTopic(name);
      responses.push(result(name, topicId, outcome.errorCode, outcome.errorMessage));
    }
    return { throttleTimeMs: 0, responses };
  },

  errorResponse(req, errorCode, ctx) {
    return { throttleTimeMs: 0, responses: targetsOf(req, ctx.header.apiVersion).map((t) => result(t.name, t.topicId, errorCode, null)) };
  },
};

function targetsOf(req: DeleteTopicsRequest, version: number): Target[] {
  if (version >= 6) return (req.topics ?? []).map((t) => ({ name: t.name, topicId: t.topicId }));
  return (req.topicNames ?? []).map((name) => ({ name, topicId: ZERO_UUID }));
}

function result(name: string | null, topicId: string, errorCode: number, errorMessage: string | null): DeleteTopicsResponseDeletableTopicResult {
  return { name, topicId, errorCode, errorMessage };
}
