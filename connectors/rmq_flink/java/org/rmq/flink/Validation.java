package org.rmq.flink;

import java.io.IOException;

/**
 * Checks run when a job is built (from Python, before anything is submitted): the NameServer
 * answers and every topic exists with queues to read (or write). Each check is bounded by
 * {@code timeoutMs} milliseconds per request.
 */
public final class Validation {
    private Validation() {
    }

    /**
     * Returns {@code null} when all topics ({@code \n}-separated) are usable, else the option at
     * fault ({@code topic} or {@code namesrv}), a tab, and a sentence saying what is wrong.
     */
    public static String checkTopics(String namesrv, String topics, boolean forWrite, long timeoutMs) {
        try (RocketMQClient client = new RocketMQClient(namesrv, timeoutMs)) {
            for (String topic : topics.split("\n")) {
                RocketMQClient.Route route = client.route(topic);
                if ((forWrite ? route.writeQueues : route.readQueues).isEmpty()) {
                    return "topic\ttopic '" + topic + "' has no " + (forWrite ? "writable" : "readable") + " queue";
                }
            }
            return null;
        } catch (RocketMQClient.TopicNotFoundException e) {
            return "topic\t" + e.getMessage();
        } catch (IOException | IllegalArgumentException e) {
            return "namesrv\tthe NameServer " + namesrv + " is unreachable: " + e.getMessage();
        }
    }
}
