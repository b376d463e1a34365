package org.rmq.flink;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;

/**
 * A blocking TCP connection to one NameServer or broker, one request at a time.
 *
 * <p>Every call has a deadline ({@code timeoutMs}, milliseconds): connecting, writing and waiting
 * for the response all count against it, and a call that misses it fails with a
 * {@link SocketTimeoutException} and closes the connection. Requests the peer initiates on this
 * connection (CHECK_TRANSACTION_STATE, NOTIFY_CONSUMER_IDS_CHANGED) are read and dropped: this
 * client never registers as a producer or consumer, so the broker has nothing to ask it.
 */
final class RemotingConnection implements AutoCloseable {
    private final String address;
    private Socket socket;
    private InputStream in;
    private OutputStream out;
    private int nextOpaque = 1;

    RemotingConnection(String address) {
        this.address = address;
    }

    synchronized RemotingCommand invoke(int code, java.util.Map<String, String> fields, byte[] body,
            long timeoutMs) throws IOException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        try {
            ensureOpen(timeoutMs);
            int opaque = nextOpaque++;
            out.write(RemotingCommand.request(code, opaque, fields, body).encode());
            out.flush();
            while (true) {
                long left = deadline - System.currentTimeMillis();
                if (left <= 0) {
                    throw new SocketTimeoutException("no answer from " + address + " within "
                            + timeoutMs + " ms (request code " + code + ")");
                }
                socket.setSoTimeout((int) Math.max(1, left));
                RemotingCommand frame = RemotingCommand.read(in);
                if (frame.isResponse() && frame.opaque == opaque) {
                    return frame;
                }
            }
        } catch (SocketTimeoutException e) {
            close();
            SocketTimeoutException timeout = new SocketTimeoutException("no answer from " + address
                    + " within " + timeoutMs + " ms (request code " + code + ")");
            timeout.initCause(e);
            throw timeout;
        } catch (IOException e) {
            close();
            throw new IOException("connection to " + address + " failed: " + e, e);
        }
    }

    private void ensureOpen(long timeoutMs) throws IOException {
        if (socket != null) {
            return;
        }
        int colon = address.lastIndexOf(':');
        if (colon <= 0) {
            throw new IOException("address must be host:port, got '" + address + "'");
        }
        String host = address.substring(0, colon);
        int port;
        try {
            port = Integer.parseInt(address.substring(colon + 1).trim());
        } catch (NumberFormatException e) {
            throw new IOException("address must be host:port, got '" + address + "'");
        }
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.setKeepAlive(true);
        s.connect(new InetSocketAddress(host, port), (int) Math.max(1, timeoutMs));
        socket = s;
        in = new BufferedInputStream(s.getInputStream(), 64 * 1024);
        out = s.getOutputStream();
    }

    @Override
    public synchronized void close() {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing a broken socket: nothing left to do
            }
        }
        socket = null;
        in = null;
        out = null;
    }
}
