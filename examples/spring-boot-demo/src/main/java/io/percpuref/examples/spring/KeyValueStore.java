package io.percpuref.examples.spring;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The real resource the demo guards: a small key/value store whose values live in an append-only
 * file, {@code values.log}, in a directory of its own. It holds an open {@link FileChannel}, and
 * {@link #close()} closes the channel and deletes the directory, which is exactly the kind of
 * release that must not happen under a reader's feet.
 *
 * <p>Layout and protocol: each {@link #put} appends the UTF-8 value at the end of the file (under
 * {@link #appendLock}, the only lock) and then publishes {@code key -> (offset, length)} in
 * {@link #index}; {@link #get} looks the key up and reads those bytes with a positional read, which
 * takes no lock. A reader that sees an index entry therefore sees its bytes (the append completes
 * before the {@code ConcurrentHashMap.put} that publishes it). Overwritten values stay in the file
 * as garbage; the demo's stores are small and short-lived.
 *
 * <p>The store does nothing to protect itself from use after {@link #close()}: a read or write on a
 * closed store fails with {@link IllegalStateException} ({@link #useAfterClose()} counts them). In
 * the demo every use goes through a percpu-ref lease, so that count stays zero; the tests check it.
 */
public final class KeyValueStore implements AutoCloseable {

    private static final String LOG_FILE = "values.log";

    private final String name;
    private final Path directory;
    private final FileChannel channel;
    /** Key to {@code {offset, length}} of its latest value in the file. */
    private final ConcurrentHashMap<String, long[]> index = new ConcurrentHashMap<>();
    /** Serializes appends, so that each record gets its own range of the file. */
    private final ReentrantLock appendLock = new ReentrantLock();
    /** End of the file; guarded by {@link #appendLock}. */
    private long end;
    /** Set once by {@link #close()}. */
    private volatile boolean closed;
    /** Operations attempted after close: a percpu-ref guard makes this impossible. */
    private final LongAdder useAfterClose = new LongAdder();

    private KeyValueStore(String name, Path directory, FileChannel channel) {
        this.name = name;
        this.directory = directory;
        this.channel = channel;
    }

    /**
     * Creates {@code directory} (and its parents) and opens an empty store in it.
     *
     * @throws UncheckedIOException if the directory or the file cannot be created
     */
    public static KeyValueStore open(String name, Path directory) {
        try {
            Files.createDirectories(directory);
            FileChannel channel = FileChannel.open(directory.resolve(LOG_FILE), StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.READ, StandardOpenOption.WRITE);
            return new KeyValueStore(name, directory, channel);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open store '" + name + "' in " + directory, e);
        }
    }

    /** The directory holding the store's file; deleted by {@link #close()}. */
    public Path directory() {
        return directory;
    }

    /**
     * Appends {@code value} to the file and makes it the value of {@code key}.
     *
     * @throws IllegalStateException if the store is closed
     * @throws UncheckedIOException  if the write fails
     */
    public void put(String key, String value) {
        checkOpen("put");
        ByteBuffer bytes = ByteBuffer.wrap(value.getBytes(StandardCharsets.UTF_8));
        int length = bytes.remaining();
        appendLock.lock();
        try {
            long offset = end;
            while (bytes.hasRemaining()) {
                channel.write(bytes, offset + (length - bytes.remaining()));
            }
            end = offset + length;
            // publish: the bytes are in the file before any reader can find their offset
            index.put(key, new long[] {offset, length});
        } catch (ClosedChannelException e) {
            throw usedAfterClose("put");
        } catch (IOException e) {
            throw new UncheckedIOException("store '" + name + "': cannot write '" + key + "'", e);
        } finally {
            appendLock.unlock();
        }
    }

    /**
     * Reads the value of {@code key} from the file.
     *
     * @return the value, or empty if the key was never put
     * @throws IllegalStateException if the store is closed
     * @throws UncheckedIOException  if the read fails
     */
    public Optional<String> get(String key) {
        checkOpen("get");
        long[] location = index.get(key);
        if (location == null) {
            return Optional.empty();
        }
        ByteBuffer bytes = ByteBuffer.allocate((int) location[1]);
        try {
            while (bytes.hasRemaining()) {
                if (channel.read(bytes, location[0] + bytes.position()) < 0) {
                    throw new IOException("unexpected end of file");
                }
            }
        } catch (ClosedChannelException e) {
            throw usedAfterClose("get");
        } catch (IOException e) {
            throw new UncheckedIOException("store '" + name + "': cannot read '" + key + "'", e);
        }
        return Optional.of(new String(bytes.array(), StandardCharsets.UTF_8));
    }

    /** Number of keys. */
    public int size() {
        return index.size();
    }

    /** Whether {@link #close()} has run. */
    public boolean isClosed() {
        return closed;
    }

    /** How many reads and writes were attempted after {@link #close()} (zero under a percpu-ref guard). */
    public long useAfterClose() {
        return useAfterClose.sum();
    }

    /**
     * Closes the file and deletes it and the store's directory. Idempotent.
     *
     * @throws UncheckedIOException if the file cannot be closed or deleted
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            channel.close();
            Files.deleteIfExists(directory.resolve(LOG_FILE));
            Files.deleteIfExists(directory);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close store '" + name + "' in " + directory, e);
        }
    }

    @Override
    public String toString() {
        return "KeyValueStore[" + name + ", " + size() + " keys" + (closed ? ", closed" : "") + "]";
    }

    private void checkOpen(String operation) {
        if (closed) {
            throw usedAfterClose(operation);
        }
    }

    private IllegalStateException usedAfterClose(String operation) {
        useAfterClose.increment();
        return new IllegalStateException("store '" + name + "' used after close (" + operation + ")");
    }
}
