package org.rmq.flink;

import java.io.Serializable;
import java.util.List;

/**
 * Settings of one source: NameServer address list ({@code host:port;host:port}), topics, consumer
 * group, starting offsets, stopping offsets ({@code null} = unbounded), filter expression and
 * type ({@code TAG} or {@code SQL92}), messages per pull, idle poll interval and request timeout
 * (milliseconds), and whether offsets are committed to the group when a checkpoint completes.
 */
final class RocketMQSourceConfig implements Serializable {
    private static final long serialVersionUID = 1L;

    final String namesrv;
    final List<String> topics;
    final String group;
    final OffsetSpec starting;
    final OffsetSpec stopping;
    final String filterExpression;
    final String filterType;
    final int batchSize;
    final long pollIntervalMs;
    final long timeoutMs;
    final boolean commitOffsetsOnCheckpoint;

    RocketMQSourceConfig(String namesrv, List<String> topics, String group, OffsetSpec starting,
            OffsetSpec stopping, String filterExpression, String filterType, int batchSize,
            long pollIntervalMs, long timeoutMs, boolean commitOffsetsOnCheckpoint) {
        this.namesrv = namesrv;
        this.topics = topics;
        this.group = group;
        this.starting = starting;
        this.stopping = stopping;
        this.filterExpression = filterExpression;
        this.filterType = filterType;
        this.batchSize = batchSize;
        this.pollIntervalMs = pollIntervalMs;
        this.timeoutMs = timeoutMs;
        this.commitOffsetsOnCheckpoint = commitOffsetsOnCheckpoint;
    }
}
