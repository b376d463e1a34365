package org.rmq.flink;

import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A message the sink is to send: the body, an optional tag ({@code null} = the sink's configured
 * tag, if any), optional keys (RocketMQ's {@code KEYS} property: space-separated) and optional
 * user properties. Property names reserved by RocketMQ (the Java client's
 * {@code MessageConst.STRING_HASH_SET}: TAGS, KEYS, DELAY, UNIQ_KEY, ...) are refused, as
 * {@code Message.putUserProperty} refuses them.
 */
public final class OutgoingMessage {
    /** Property names a user property may not take. */
    public static final Set<String> RESERVED_PROPERTIES = Collections.unmodifiableSet(new HashSet<>(
            Arrays.asList("TRACE_ON", "MSG_REGION", "KEYS", "TAGS", "WAIT", "DELAY",
                    "RETRY_TOPIC", "REAL_TOPIC", "REAL_QID", "TRAN_MSG", "PGROUP", "MIN_OFFSET",
                    "MAX_OFFSET", "BUYER_ID", "ORIGIN_MESSAGE_ID", "TRANSFER_FLAG", "CORRECTION_FLAG",
                    "MQ2_FLAG", "RECONSUME_TIME", "UNIQ_KEY", "MAX_RECONSUME_TIMES",
                    "CONSUME_START_TIME", "POP_CK", "POP_CK_OFFSET", "1ST_POP_TIME",
                    "TRAN_PREPARED_QUEUE_OFFSET", "DUP_INFO", "EXTEND_UNIQ_INFO", "INSTANCE_ID",
                    "CORRELATION_ID", "REPLY_TO_CLIENT", "TTL", "ARRIVE_TIME", "PUSH_REPLY_TIME",
                    "CLUSTER", "MSG_TYPE", "INNER_MULTI_QUEUE_OFFSET", "__transactionId__",
                    "TRANSACTION_CHECK_TIMES", "CHECK_IMMUNITY_TIME_IN_SECONDS", "INNER_NUM",
                    "INNER_BASE", "__SHARDINGKEY", "TIMER_DELIVER_MS", "TIMER_DELAY_SEC",
                    "TIMER_DELAY_MS", "TIMER_ENQUEUE_MS", "TIMER_DEQUEUE_MS", "TIMER_ROLL_TIMES",
                    "TIMER_OUT_MS", "TIMER_DEL_UNIQKEY", "TIMER_DELAY_LEVEL", "__BORNHOST",
                    "BORN_TIMESTAMP", "DLQ_ORIGIN_TOPIC", "DLQ_ORIGIN_MESSAGE_ID", "__CRC32#")));

    public final byte[] body;
    public final String tag;
    public final String keys;
    public final Map<String, String> properties;

    /**
     * @throws IllegalArgumentException when the body is null or a property name is empty,
     *     reserved, or contains the property separators (U+0001, U+0002)
     */
    public OutgoingMessage(byte[] body, String tag, String keys, Map<String, String> properties) {
        if (body == null) {
            throw new IllegalArgumentException("the message body is null");
        }
        this.body = body;
        this.tag = tag;
        this.keys = keys;
        this.properties = properties == null ? Collections.emptyMap() : new LinkedHashMap<>(properties);
        for (Map.Entry<String, String> e : this.properties.entrySet()) {
            String name = e.getKey();
            if (name == null || name.isEmpty() || RESERVED_PROPERTIES.contains(name)) {
                throw new IllegalArgumentException("the property name '" + name + "' is reserved by "
                        + "RocketMQ or empty");
            }
            if (hasSeparator(name) || hasSeparator(e.getValue())) {
                throw new IllegalArgumentException("property '" + name + "' contains U+0001 or U+0002");
            }
        }
        if (hasSeparator(tag) || hasSeparator(keys)) {
            throw new IllegalArgumentException("tag or keys contain U+0001 or U+0002");
        }
    }

    private static boolean hasSeparator(String s) {
        return s != null && (s.indexOf('\u0001') >= 0 || s.indexOf('\u0002') >= 0);
    }
}
