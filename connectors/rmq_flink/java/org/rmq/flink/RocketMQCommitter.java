package org.rmq.flink;

import java.io.IOException;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.api.connector.sink2.Committer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Commits the half messages of a completed checkpoint with END_TRANSACTION (COMMIT), asking the
 * broker for an answer. Committing is idempotent: a transaction the broker already resolved
 * answers SUCCESS, so committables re-committed after a restore are harmless. Network failures
 * are retried later (up to {@link #MAX_RETRIES} times); a refusal (half message gone, transaction
 * timeout over) fails the job with the broker's reason rather than losing data silently.
 */
final class RocketMQCommitter implements Committer<TransactionCommittable> {
    private static final Logger LOG = LoggerFactory.getLogger(RocketMQCommitter.class);
    static final int COMMIT = 8;
    static final int MAX_RETRIES = 10;

    private final RocketMQSinkConfig config;
    private final RocketMQClient client;
    private final Map<String, String> brokerAddrs = new HashMap<>();

    RocketMQCommitter(RocketMQSinkConfig config) {
        this.config = config;
        this.client = new RocketMQClient(config.namesrv, config.timeoutMs);
    }

    @Override
    public void commit(Collection<CommitRequest<TransactionCommittable>> requests) {
        for (CommitRequest<TransactionCommittable> request : requests) {
            TransactionCommittable c = request.getCommittable();
            try {
                RemotingCommand response = client.endTransaction(addr(c), c.producerGroup,
                        c.tranStateTableOffset, c.commitLogOffset, c.msgId, COMMIT);
                if (response.code != RocketMQClient.SUCCESS) {
                    request.signalFailedWithUnknownReason(new IOException("RocketMQ sink: the broker "
                            + "refused to commit " + c + ": code " + response.code + " (" + response.remark + ")"));
                }
            } catch (IOException e) {
                brokerAddrs.clear();
                if (request.getNumberOfRetries() >= MAX_RETRIES) {
                    request.signalFailedWithUnknownReason(
                            new IOException("RocketMQ sink: committing " + c + " failed: " + e, e));
                } else {
                    LOG.warn("RocketMQ sink: committing {} failed, retrying later: {}", c, e.toString());
                    request.retryLater();
                }
            }
        }
    }

    private String addr(TransactionCommittable c) {
        String addr = brokerAddrs.get(c.brokerName);
        if (addr == null) {
            try {
                brokerAddrs.putAll(client.route(c.topic).brokerAddrs);
            } catch (IOException e) {
                LOG.warn("RocketMQ sink: no route for {} ({}); using {}", c.topic, e.toString(), c.brokerAddr);
            }
            addr = brokerAddrs.getOrDefault(c.brokerName, c.brokerAddr);
        }
        return addr;
    }

    @Override
    public void close() {
        client.close();
    }
}
