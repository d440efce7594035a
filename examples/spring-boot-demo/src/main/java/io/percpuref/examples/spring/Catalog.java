package io.percpuref.examples.spring;

import io.percpuref.spring.Guarded;
import io.percpuref.spring.GuardedResource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The demo's {@code @GuardedResource}: a {@link KeyValueStore} registered as {@value #RESOURCE}.
 * Every public method is {@code @Guarded}, so it holds a lease on "catalog" for the call (for
 * {@link #getAsync}, until the returned future completes). {@link #close()} is the release action:
 * it runs once, after "catalog" has been killed (through {@code POST /actuator/percpurefs/catalog}
 * or at shutdown) and its last lease closed, and closes the store and its I/O threads. After the
 * kill, calls are refused ({@code 503} over HTTP) and the store is never touched again.
 */
@Component
@GuardedResource(name = Catalog.RESOURCE)
public class Catalog implements AutoCloseable {

    /** The resource name. */
    public static final String RESOURCE = "catalog";

    private static final Logger log = LoggerFactory.getLogger(Catalog.class);

    private final KeyValueStore store;
    /** Runs the asynchronous reads; shut down by {@link #close()}, when no read can be pending. */
    private final ExecutorService io;
    private final Duration asyncDelay;

    Catalog(DataDirectory dataDirectory, DemoProperties properties) {
        this.store = dataDirectory.open(RESOURCE);
        this.asyncDelay = properties.getCatalog().getAsyncDelay();
        AtomicInteger threads = new AtomicInteger();
        this.io = Executors.newFixedThreadPool(2, task -> {
            Thread thread = new Thread(task, "catalog-io-" + threads.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
        for (int i = 0; i < 8; i++) {
            this.store.put("key-" + i, "value-" + i);
        }
    }

    /** Reads {@code key} (under a lease on "catalog"). */
    @Guarded
    public Optional<String> get(String key) {
        return this.store.get(key);
    }

    /** Writes {@code key} (under a lease on "catalog"). */
    @Guarded
    public void put(String key, String value) {
        this.store.put(key, value);
    }

    /**
     * Reads {@code key} on the catalog's I/O threads after {@code demo.catalog.async-delay}. The lease
     * is held until the returned future completes, so the store cannot be closed under the read;
     * once "catalog" is killed, the future is returned already failed with
     * {@link io.percpuref.ResourceUnavailableException}.
     */
    @Guarded
    public CompletableFuture<Optional<String>> getAsync(String key) {
        return CompletableFuture.supplyAsync(() -> this.store.get(key),
                CompletableFuture.delayedExecutor(this.asyncDelay.toNanos(), TimeUnit.NANOSECONDS, this.io));
    }

    /** The underlying store (for diagnostics: no lease is taken). */
    public KeyValueStore store() {
        return this.store;
    }

    /** The release action: closes the store and its I/O threads. */
    @Override
    public void close() {
        this.io.shutdown();
        this.store.close();
        log.info("catalog closed: {} keys, {} uses after close", this.store.size(), this.store.useAfterClose());
    }
}
