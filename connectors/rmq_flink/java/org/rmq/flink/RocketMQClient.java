package org.rmq.flink;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;

/**
 * The few remoting calls the connector needs (reference §2.3): routes from the NameServer, queue
 * offsets, pulls, consumer offsets, sends and END_TRANSACTION. Blocking, one connection per
 * address, every call bounded by {@code timeoutMs} milliseconds. Not thread-safe per address
 * beyond the connection's own serialisation; each task owns its client.
 */
final class RocketMQClient implements AutoCloseable {
    static final int GET_ROUTEINFO_BY_TOPIC = 105;
    static final int PULL_MESSAGE = 11;
    static final int GET_MAX_OFFSET = 30;
    static final int GET_MIN_OFFSET = 31;
    static final int SEARCH_OFFSET_BY_TIMESTAMP = 29;
    static final int QUERY_CONSUMER_OFFSET = 14;
    static final int UPDATE_CONSUMER_OFFSET = 15;
    static final int SEND_MESSAGE_V2 = 310;
    static final int END_TRANSACTION = 37;

    static final int SUCCESS = 0;
    static final int TOPIC_NOT_EXIST = 17;
    static final int PULL_NOT_FOUND = 19;
    static final int PULL_RETRY_IMMEDIATELY = 20;
    static final int PULL_OFFSET_MOVED = 21;
    static final int QUERY_NOT_FOUND = 22;

    static final int PERM_WRITE = 2;
    static final int PERM_READ = 4;

    /** One queue of a topic as the NameServer describes it. */
    static final class QueueInfo {
        final String topic;
        final String brokerName;
        final int queueId;

        QueueInfo(String topic, String brokerName, int queueId) {
            this.topic = topic;
            this.brokerName = brokerName;
            this.queueId = queueId;
        }
    }

    /** A topic's route: master address per broker name, readable and writable queues. */
    static final class Route {
        final Map<String, String> brokerAddrs = new TreeMap<>();
        final List<QueueInfo> readQueues = new ArrayList<>();
        final List<QueueInfo> writeQueues = new ArrayList<>();
    }

    /** The answer to one pull: status code, offsets and the decoded records. */
    static final class PullResult {
        final int code;
        final long nextBeginOffset;
        final long minOffset;
        final long maxOffset;
        final List<RocketMQRecord> records;

        PullResult(int code, long next, long min, long max, List<RocketMQRecord> records) {
            this.code = code;
            this.nextBeginOffset = next;
            this.minOffset = min;
            this.maxOffset = max;
            this.records = records;
        }
    }

    /** The answer to one send. */
    static final class SendResult {
        final String offsetMsgId;
        final long queueOffset;

        SendResult(String offsetMsgId, long queueOffset) {
            this.offsetMsgId = offsetMsgId;
            this.queueOffset = queueOffset;
        }
    }

    private final List<String> namesrvAddrs = new ArrayList<>();
    private final long timeoutMs;
    private final Map<String, RemotingConnection> connections = new HashMap<>();

    RocketMQClient(String namesrv, long timeoutMs) {
        for (String addr : namesrv.split("[;,]")) {
            if (!addr.trim().isEmpty()) {
                namesrvAddrs.add(addr.trim());
            }
        }
        if (namesrvAddrs.isEmpty()) {
            throw new IllegalArgumentException("namesrv must name at least one host:port");
        }
        this.timeoutMs = timeoutMs;
    }

    long timeoutMs() {
        return timeoutMs;
    }

    private synchronized RemotingConnection connection(String addr) {
        return connections.computeIfAbsent(addr, RemotingConnection::new);
    }

    private RemotingCommand call(String addr, int code, Map<String, String> fields, byte[] body,
            long timeout) throws IOException {
        return connection(addr).invoke(code, fields, body, timeout);
    }

    private static IOException failure(String what, RemotingCommand response) {
        return new IOException(what + " failed: code " + response.code + " (" + response.remark + ")");
    }

    // --- routes ------------------------------------------------------------------------------

    Route route(String topic) throws IOException {
        Map<String, String> fields = new HashMap<>();
        fields.put("topic", topic);
        IOException last = null;
        for (String addr : namesrvAddrs) {
            RemotingCommand response;
            try {
                response = call(addr, GET_ROUTEINFO_BY_TOPIC, fields, null, timeoutMs);
            } catch (IOException e) {
                last = e;
                continue;
            }
            if (response.code == TOPIC_NOT_EXIST) {
                throw new TopicNotFoundException(topic, response.remark);
            }
            if (response.code != SUCCESS) {
                throw failure("route of topic " + topic, response);
            }
            return parseRoute(topic, response.body);
        }
        throw new IOException("no NameServer of " + namesrvAddrs + " answers: " + last, last);
    }

    private static Route parseRoute(String topic, byte[] body) throws IOException {
        JsonNode root = RemotingCommand.JSON.readTree(new String(body, StandardCharsets.UTF_8));
        Route route = new Route();
        for (JsonNode broker : root.path("brokerDatas")) {
            JsonNode addrs = broker.path("brokerAddrs");
            String master = addrs.has("0") ? addrs.get("0").asText() : null;
            if (master == null) {
                Iterator<JsonNode> any = addrs.elements();
                master = any.hasNext() ? any.next().asText() : null;
            }
            if (master != null) {
                route.brokerAddrs.put(broker.path("brokerName").asText(), master);
            }
        }
        List<JsonNode> queueDatas = new ArrayList<>();
        root.path("queueDatas").forEach(queueDatas::add);
        queueDatas.sort((a, b) -> a.path("brokerName").asText().compareTo(b.path("brokerName").asText()));
        for (JsonNode q : queueDatas) {
            String name = q.path("brokerName").asText();
            int perm = q.path("perm").asInt();
            if (!route.brokerAddrs.containsKey(name)) {
                continue;
            }
            if ((perm & PERM_READ) != 0) {
                for (int i = 0; i < q.path("readQueueNums").asInt(); i++) {
                    route.readQueues.add(new QueueInfo(topic, name, i));
                }
            }
            if ((perm & PERM_WRITE) != 0) {
                for (int i = 0; i < q.path("writeQueueNums").asInt(); i++) {
                    route.writeQueues.add(new QueueInfo(topic, name, i));
                }
            }
        }
        return route;
    }

    // --- queue offsets -----------------------------------------------------------------------

    private long offsetCall(String addr, int code, Map<String, String> fields, String what)
            throws IOException {
        RemotingCommand response = call(addr, code, fields, null, timeoutMs);
        if (response.code != SUCCESS) {
            throw failure(what, response);
        }
        return response.longField("offset");
    }

    private static Map<String, String> queueFields(String topic, int queueId) {
        Map<String, String> fields = new HashMap<>();
        fields.put("topic", topic);
        fields.put("queueId", Integer.toString(queueId));
        return fields;
    }

    long maxOffset(String addr, String topic, int queueId) throws IOException {
        return offsetCall(addr, GET_MAX_OFFSET, queueFields(topic, queueId),
                "max offset of " + topic + "/" + queueId);
    }

    long minOffset(String addr, String topic, int queueId) throws IOException {
        return offsetCall(addr, GET_MIN_OFFSET, queueFields(topic, queueId),
                "min offset of " + topic + "/" + queueId);
    }

    long searchOffset(String addr, String topic, int queueId, long timestampMs) throws IOException {
        Map<String, String> fields = queueFields(topic, queueId);
        fields.put("timestamp", Long.toString(timestampMs));
        fields.put("boundaryType", "LOWER");
        return offsetCall(addr, SEARCH_OFFSET_BY_TIMESTAMP, fields,
                "offset search of " + topic + "/" + queueId);
    }

    /** The group's committed offset of the queue, or -1 when it has none. */
    long committedOffset(String addr, String group, String topic, int queueId) throws IOException {
        Map<String, String> fields = queueFields(topic, queueId);
        fields.put("consumerGroup", group);
        fields.put("setZeroIfNotFound", "false");
        RemotingCommand response = call(addr, QUERY_CONSUMER_OFFSET, fields, null, timeoutMs);
        if (response.code == QUERY_NOT_FOUND) {
            return -1;
        }
        if (response.code != SUCCESS) {
            throw failure("committed offset of " + group + " on " + topic + "/" + queueId, response);
        }
        return response.longField("offset");
    }

    void commitOffset(String addr, String group, String topic, int queueId, long offset)
            throws IOException {
        Map<String, String> fields = queueFields(topic, queueId);
        fields.put("consumerGroup", group);
        fields.put("commitOffset", Long.toString(offset));
        RemotingCommand response = call(addr, UPDATE_CONSUMER_OFFSET, fields, null, timeoutMs);
        if (response.code != SUCCESS) {
            throw failure("offset commit of " + group + " on " + topic + "/" + queueId, response);
        }
    }

    // --- pull ----------------------------------------------------------------------------------

    PullResult pull(String addr, String group, String topic, int queueId, long offset, int maxNums,
            String expression, String expressionType) throws IOException {
        Map<String, String> fields = queueFields(topic, queueId);
        fields.put("consumerGroup", group);
        fields.put("queueOffset", Long.toString(offset));
        fields.put("maxMsgNums", Integer.toString(maxNums));
        fields.put("sysFlag", "4"); // SUBSCRIPTION: the expression travels with the request
        fields.put("commitOffset", "-1");
        fields.put("suspendTimeoutMillis", "0");
        fields.put("subscription", expression);
        fields.put("subVersion", Long.toString(System.currentTimeMillis()));
        fields.put("expressionType", expressionType);
        RemotingCommand response = call(addr, PULL_MESSAGE, fields, null, timeoutMs);
        switch (response.code) {
            case SUCCESS:
            case PULL_NOT_FOUND:
            case PULL_RETRY_IMMEDIATELY:
            case PULL_OFFSET_MOVED:
                break;
            default:
                throw failure("pull of " + topic + "/" + queueId + " at " + offset, response);
        }
        List<RocketMQRecord> records = response.code == SUCCESS && response.body != null
                ? RocketMQRecord.decodeAll(response.body) : new ArrayList<>();
        return new PullResult(response.code, response.longField("nextBeginOffset"),
                response.longField("minOffset"), response.longField("maxOffset"), records);
    }

    // --- send and transactions ------------------------------------------------------------------

    SendResult send(String addr, String group, String topic, int queueId, byte[] body,
            Map<String, String> properties, int sysFlag) throws IOException {
        Map<String, String> fields = new HashMap<>();
        fields.put("a", group);
        fields.put("b", topic);
        fields.put("c", "TBW102");
        fields.put("d", "4");
        fields.put("e", Integer.toString(queueId));
        fields.put("f", Integer.toString(sysFlag));
        fields.put("g", Long.toString(System.currentTimeMillis()));
        fields.put("h", "0");
        fields.put("i", RocketMQRecord.formatProperties(properties));
        fields.put("j", "0");
        fields.put("k", "false");
        RemotingCommand response = call(addr, SEND_MESSAGE_V2, fields, body, timeoutMs);
        if (response.code != SUCCESS) {
            throw failure("send to " + topic + "/" + queueId + " at " + addr, response);
        }
        return new SendResult(response.field("msgId"), response.longField("queueOffset"));
    }

    /** END_TRANSACTION (8 commit, 12 rollback) asking for an answer; returns the response. */
    RemotingCommand endTransaction(String addr, String group, long tranStateTableOffset,
            long commitLogOffset, String msgId, int commitOrRollback) throws IOException {
        Map<String, String> fields = new HashMap<>();
        fields.put("producerGroup", group);
        fields.put("tranStateTableOffset", Long.toString(tranStateTableOffset));
        fields.put("commitLogOffset", Long.toString(commitLogOffset));
        fields.put("commitOrRollback", Integer.toString(commitOrRollback));
        fields.put("fromTransactionCheck", "false");
        fields.put("msgId", msgId);
        fields.put("transactionId", msgId);
        return call(addr, END_TRANSACTION, fields, null, timeoutMs);
    }

    /** The commit-log offset inside an offset message id (reference §4.5). */
    static long commitLogOffset(String offsetMsgId) throws IOException {
        if (offsetMsgId == null || (offsetMsgId.length() != 32 && offsetMsgId.length() != 56)) {
            throw new IOException("unexpected offset message id '" + offsetMsgId + "'");
        }
        return Long.parseUnsignedLong(offsetMsgId.substring(offsetMsgId.length() - 16), 16);
    }

    @Override
    public synchronized void close() {
        for (RemotingConnection c : connections.values()) {
            c.close();
        }
        connections.clear();
    }

    /** The NameServer has no route for the topic. */
    static final class TopicNotFoundException extends IOException {
        private static final long serialVersionUID = 1L;

        TopicNotFoundException(String topic, String remark) {
            super("topic '" + topic + "' does not exist (the NameServer has no route for it: "
                    + remark + ")");
        }
    }
}
