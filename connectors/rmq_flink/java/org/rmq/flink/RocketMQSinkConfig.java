package org.rmq.flink;

import java.io.Serializable;

/**
 * Settings of one sink: NameServer list, topic, producer group, optional tag, exactly-once
 * (transactional) or at-least-once, send retries, request timeout (ms) and the transaction
 * timeout (seconds: a half message not committed by then is refused, see docs/flink.md).
 */
final class RocketMQSinkConfig implements Serializable {
    private static final long serialVersionUID = 1L;

    final String namesrv;
    final String topic;
    final String producerGroup;
    final String tag;
    final boolean exactlyOnce;
    final int retries;
    final long timeoutMs;
    final long transactionTimeoutSeconds;

    RocketMQSinkConfig(String namesrv, String topic, String producerGroup, String tag,
            boolean exactlyOnce, int retries, long timeoutMs, long transactionTimeoutSeconds) {
        this.namesrv = namesrv;
        this.topic = topic;
        this.producerGroup = producerGroup;
        this.tag = tag;
        this.exactlyOnce = exactlyOnce;
        this.retries = retries;
        this.timeoutMs = timeoutMs;
        this.transactionTimeoutSeconds = transactionTimeoutSeconds;
    }
}
