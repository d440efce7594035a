package io.percpuref.examples.spring;

import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefInfo;
import io.percpuref.registry.RefRegistry;
import io.percpuref.spring.Guarded;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Service;

import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

/**
 * Stores created and killed at run time, the programmatic side of percpu-ref: each shard is a
 * {@link KeyValueStore} registered in the application's {@link RefRegistry} with
 * {@link KeyValueStore#close()} as its release action, and every read or write holds a lease on
 * it: {@code @Guarded(resourceExpression = "#name")} takes the lease on the shard that the call's
 * {@code name} argument names. {@link #kill(String)} is the registry's kill: new leases are refused
 * at once, and the store is closed when the last lease (for example a {@linkplain #get slow scan})
 * closes.
 *
 * <p>This service knows the shards it registered until they are released; the registry knows their
 * state. A name is free again once its shard has been released.
 */
@Service
public class Shards {

    /** Shard names: lower-case letters, digits and dashes, so that they are safe in URLs and labels. */
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,39}");

    private static final Logger log = LoggerFactory.getLogger(Shards.class);

    private final RefRegistry registry;
    private final DataDirectory dataDirectory;
    private final int maxShards;
    private final Duration maxHold;
    /** The shards this service registered and that have not been released yet. */
    private final ConcurrentHashMap<String, Shard> shards = new ConcurrentHashMap<>();
    /** Source of default names, {@code shard-1}, {@code shard-2}, ... */
    private final AtomicLong sequence = new AtomicLong();
    /** Opened when the application context starts closing: slow scans end early. */
    private final CountDownLatch closing = new CountDownLatch(1);

    Shards(RefRegistry registry, DataDirectory dataDirectory, DemoProperties properties) {
        this.registry = registry;
        this.dataDirectory = dataDirectory;
        this.maxShards = properties.getShards().getMaxShards();
        this.maxHold = properties.getShards().getMaxHold();
    }

    /**
     * Opens a new store and registers it under {@code name} (or {@code shard-<n>} if null).
     *
     * @return the new shard (live)
     * @throws IllegalArgumentException if the name is malformed or taken by a live or dying resource
     * @throws ShardLimitException      if {@code demo.shards.max-shards} shards are live or dying
     */
    public RefInfo create(String name) {
        String shardName = name != null ? name : "shard-" + this.sequence.incrementAndGet();
        if (!NAME.matcher(shardName).matches()) {
            throw new IllegalArgumentException("shard name must match " + NAME + ", was '" + shardName + "'");
        }
        if (this.shards.size() >= this.maxShards) {
            throw new ShardLimitException(this.maxShards);
        }
        KeyValueStore store = this.dataDirectory.open(shardName);
        ManagedResource<KeyValueStore> shard;
        try {
            shard = this.registry.register(shardName, store, KeyValueStore::close);
        } catch (RuntimeException e) { // a duplicate name: the registry rejected it, the store was never used
            store.close();
            throw e;
        }
        Shard registered = new Shard(shard, store);
        this.shards.put(shardName, registered);
        // after the release action: the name is free, the store's directory gone
        shard.released().thenRun(() -> {
            this.shards.remove(shardName, registered);
            log.info("shard '{}' released: {} keys, {} uses after close", shardName, store.size(), store.useAfterClose());
        });
        return shard.info();
    }

    /** The live and dying shards, in name order. */
    public List<RefInfo> list() {
        return this.shards.values().stream().map(shard -> shard.resource().info())
                .sorted(Comparator.comparing(RefInfo::name)).toList();
    }

    /**
     * The shard named {@code name}.
     *
     * @throws UnknownShardException if no live or dying shard has that name
     */
    public RefInfo info(String name) {
        return shard(name).resource().info();
    }

    /**
     * Writes {@code key} under a lease on the shard {@code name}.
     *
     * @throws io.percpuref.ResourceUnavailableException if the shard is dying, or no shard has that
     *                                                   name (check with {@link #info} first)
     */
    @Guarded(resourceExpression = "#name")
    public void put(String name, String key, String value) {
        shard(name).store().put(key, value);
    }

    /**
     * Reads {@code key} under a lease and, for a "slow scan", keeps the lease for {@code hold}
     * (at most {@code demo.shards.max-hold}; less if the application is closing) before closing it:
     * a shard killed meanwhile stays dying, and its store open, until then.
     *
     * @throws io.percpuref.ResourceUnavailableException if the shard is dying, or no shard has that
     *                                                   name (check with {@link #info} first)
     * @throws IllegalArgumentException                  if {@code hold} is negative or above the maximum
     */
    @Guarded(resourceExpression = "#name")
    public Optional<String> get(String name, String key, Duration hold) {
        if (hold.isNegative() || hold.compareTo(this.maxHold) > 0) {
            throw new IllegalArgumentException("hold must be between 0 and " + this.maxHold + ", was " + hold);
        }
        Optional<String> value = shard(name).store().get(key);
        if (!hold.isZero()) {
            holdFor(hold);
        }
        return value;
    }

    /**
     * Kills the shard: {@code LIVE -> DYING}; it is released (its store closed) when its last lease
     * closes.
     *
     * @return the shard after the kill: {@code DYING}, or {@code RELEASED} if nothing held it
     * @throws UnknownShardException     if no live or dying shard has that name
     * @throws ShardAlreadyKilledException if the shard is already dying
     */
    public RefInfo kill(String name) {
        ManagedResource<KeyValueStore> shard = shard(name).resource();
        try {
            shard.kill();
        } catch (IllegalStateException alreadyKilled) {
            throw new ShardAlreadyKilledException(name, alreadyKilled);
        }
        return shard.info();
    }

    /** Under a lease on {@code name} (a guarded call), its shard is registered and its store open. */
    private Shard shard(String name) {
        Shard shard = this.shards.get(name);
        if (shard == null) {
            throw new UnknownShardException(name);
        }
        return shard;
    }

    /** The application is closing: end the slow scans now, so that the drain does not wait for them. */
    @EventListener
    void closing(ContextClosedEvent closed) {
        this.closing.countDown();
    }

    private void holdFor(Duration hold) {
        try {
            this.closing.await(hold.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // end the scan early; the lease closes
        }
    }

    /** A registered shard and its store (the resource that its release action closes). */
    private record Shard(ManagedResource<KeyValueStore> resource, KeyValueStore store) {
    }

    /** No live or dying shard has the requested name. */
    public static final class UnknownShardException extends RuntimeException {
        UnknownShardException(String name) {
            super("no live or dying shard is named '" + name + "'");
        }
    }

    /** The shard was killed before. */
    public static final class ShardAlreadyKilledException extends RuntimeException {
        ShardAlreadyKilledException(String name, IllegalStateException cause) {
            super("shard '" + name + "' is already killed: it is released when its last lease closes", cause);
        }
    }

    /** {@code demo.shards.max-shards} shards are live or dying. */
    public static final class ShardLimitException extends RuntimeException {
        ShardLimitException(int max) {
            super("already " + max + " shards live or dying (demo.shards.max-shards)");
        }
    }
}
