package io.percpuref.registry;

import io.percpuref.ResourceUnavailableException;

import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The {@link CurrentResource} implementation.
 *
 * <p>Protocol. {@link #current} is a volatile reference to the current generation's entry. A swap
 * (under {@link #swapLock}) registers the next generation, writes it to {@link #current}, and only
 * then kills the previous one. An acquire reads {@link #current} and leases that generation with
 * {@code tryAcquire}; a failure means the generation was killed, either by a swap (which had
 * already published its successor, so a re-read sees a different generation: retry) or by
 * {@link #close()} or a registry shutdown (the re-read sees the same one: refuse). A lease is thus
 * never taken on a killed generation, and an acquire retries at most once per concurrent swap.
 *
 * <p>A lock, not {@code synchronized}, so that no virtual thread is pinned; the lock is taken by
 * swap and close only, never by an acquire.
 */
final class CurrentHolder<T> implements CurrentResource<T> {

    private final RefRegistry registry;
    private final String name;
    private final ReleaseAction<? super T> onRelease;
    /** Serializes swaps and close. */
    private final ReentrantLock swapLock = new ReentrantLock();
    /** The current generation; written under {@link #swapLock}, read without. */
    private volatile ManagedResource<T> current;
    /** The current generation's number; written (under {@link #swapLock}) just before {@link #current}. */
    private volatile long generation;
    /** Set by {@link #close()}; guarded by {@link #swapLock}. */
    private boolean closed;

    CurrentHolder(RefRegistry registry, String name, T initial, ReleaseAction<? super T> onRelease) {
        this.registry = registry;
        this.name = name;
        this.onRelease = onRelease;
        this.current = registerGeneration(1, initial);
    }

    /**
     * Registers {@code resource} as generation {@code from}, or the next number whose name is free
     * (a generation of an earlier holder of the same name may still be draining), and records the
     * number in {@link #generation}. Called from the constructor and under {@link #swapLock}.
     */
    private ManagedResource<T> registerGeneration(long from, T resource) {
        for (long n = from; ; n++) {
            if (registry.find(name + "#" + n).isPresent()) {
                continue;
            }
            try {
                ManagedResource<T> g = registry.register(name + "#" + n, resource, onRelease);
                generation = n;
                return g;
            } catch (IllegalArgumentException taken) {
                // registered by someone else between find and register: try the next number
            }
        }
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public Lease<T> acquire() {
        ManagedResource<T> g = current;
        for (;;) {
            Optional<Lease<T>> lease = g.tryAcquire();
            if (lease.isPresent()) {
                return lease.get();
            }
            ManagedResource<T> now = current;
            if (now == g) {
                // Killed and not replaced: closed, or the registry shut down. acquire() names the state.
                return g.acquire();
            }
            g = now; // a swap killed it after publishing its successor
        }
    }

    @Override
    public Optional<Lease<T>> tryAcquire() {
        try {
            return Optional.of(acquire());
        } catch (ResourceUnavailableException unavailable) {
            return Optional.empty();
        }
    }

    @Override
    public CompletionStage<Void> swap(T newResource) {
        Objects.requireNonNull(newResource, "newResource");
        swapLock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("current resource '" + name + "' is closed: swap() refused");
            }
            ManagedResource<T> previous = current;
            ManagedResource<T> fresh = registerGeneration(generation + 1, newResource);
            current = fresh; // publish before the kill: an acquire that fails on `previous` finds `fresh`
            previous.tryKill();
            return previous.released();
        } finally {
            swapLock.unlock();
        }
    }

    @Override
    public ManagedResource<T> current() {
        return current;
    }

    @Override
    public long generation() {
        return generation;
    }

    @Override
    public CompletionStage<Void> close() {
        swapLock.lock();
        try {
            closed = true;
            current.tryKill();
            return current.released();
        } finally {
            swapLock.unlock();
        }
    }

    /** For example {@code CurrentResource[searcher#3: LIVE, 2 in flight]}. */
    @Override
    public String toString() {
        RefInfo info = current.info();
        return "CurrentResource[" + info.name() + ": " + info.state() + ", " + info.inFlight() + " in flight]";
    }
}
