package io.percpuref.ffm;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.OpenLeases;
import io.percpuref.registry.RefInfo;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.RefState;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/**
 * An {@link Arena} whose memory comes from one {@link Arena#ofShared() shared arena} and is freed
 * only when nobody uses it any more: threads take {@linkplain #acquire() leases} around their work
 * on its segments, and {@link #close()} <em>kills</em> the arena instead of freeing the memory under
 * them.
 *
 * <h2>Protocol</h2>
 * The arena is a resource registered in a {@link RefRegistry} (so it appears in the snapshot, the
 * metrics, the actuator endpoint, leak and stuck detection and shutdown reports like any other);
 * the registry's resource is the JDK shared arena and its release action is that arena's
 * {@code close()}.
 * <ol>
 *   <li>{@link #acquire()} is the registry's {@code acquire()}: a lease while the arena is live,
 *       {@link ResourceUnavailableException} once it was closed.</li>
 *   <li>{@link #close()} is the registry's kill: it flips the arena's ref to dying and returns. It
 *       never waits, never spins and never throws because of holders; every {@code acquire()} and
 *       {@code allocate()} that starts after it returned is refused (the kill is linearizable).</li>
 *   <li>When the last lease is closed, the registry runs the release action on its callback executor:
 *       the shared arena's {@code close()} (the JDK's handshake with every thread, unmapping or freeing
 *       the memory) runs there, off the closing thread. {@link #freed()} completes after it returned.</li>
 * </ol>
 * So the JDK's close runs exactly once, at a moment when no lease holder can be inside an access:
 * it never meets an acquired session and never throws "Session is acquired by N clients" because of
 * lease holders.
 *
 * <h2>What it cannot do</h2>
 * Leases are a protocol, not a check on each access: a segment used without a lease (or kept after
 * its lease was closed) is still the JDK's memory with the JDK's checks, so once the memory is gone
 * such a use fails with the JDK's own {@link IllegalStateException} ("Already closed"), never with a
 * crash. A segment held by a downcall or by asynchronous I/O outside any lease when the last lease
 * closes makes the JDK's close fail: that release fails ({@link #freed()} completes exceptionally,
 * the registry counts and reports a release failure) and the memory stays allocated (mapped), since
 * a shared arena frees it only in its {@code close()}. That is a bug to fix, not a state to retry.
 *
 * <p>Cost: a lease is the registry's lease (the ref's per-CPU get/put, plus the sampled leak
 * tracking; a close by the acquiring thread makes no CAS on the lease) and one small wrapper object.
 * Acquired and closed in one compiled method by one thread, with leak detection off, neither object
 * is allocated (the JIT scalar-replaces both). The segment accesses themselves are the JDK's,
 * unchanged.
 */
public final class DrainingArena implements Arena {

    /** The name the arena is registered under. */
    private final String name;
    /** The arena's entry in the registry; its resource is the JDK shared arena that owns the memory. */
    private final ManagedResource<Arena> handle;
    /** The shared arena's scope (it cannot close the arena): what the arena's segments report. */
    private final MemorySegment.Scope scope;
    /** Completes when the shared arena's close() returned; exceptionally if it threw. */
    private final CompletableFuture<Void> freed;

    private DrainingArena(String name, ManagedResource<Arena> handle, MemorySegment.Scope scope,
                          CompletableFuture<Void> freed) {
        this.name = name;
        this.handle = handle;
        this.scope = scope;
        this.freed = freed;
    }

    /**
     * Opens a new shared arena and registers it in {@code registry} under {@code name}.
     *
     * @throws NullPointerException     if an argument is null
     * @throws IllegalArgumentException if the name is blank or taken by a live or dying resource
     * @throws IllegalStateException    if the registry is shut down
     */
    public static DrainingArena open(RefRegistry registry, String name) {
        Objects.requireNonNull(registry, "registry");
        Objects.requireNonNull(name, "name");
        Arena shared = Arena.ofShared();
        CompletableFuture<Void> freed = new CompletableFuture<>();
        ManagedResource<Arena> handle;
        try {
            handle = registry.register(name, shared, memory -> free(name, memory, freed));
        } catch (RuntimeException e) {
            shared.close();
            throw e;
        }
        return new DrainingArena(name, handle, shared.scope(), freed);
    }

    /** The release action: frees the memory, on the registry's callback executor, after the last lease. */
    private static void free(String name, Arena shared, CompletableFuture<Void> freed) {
        try {
            shared.close();
        } catch (IllegalStateException e) {
            IllegalStateException failure = new IllegalStateException("arena '" + name + "' ["
                    + RefState.RELEASING + "]: its memory could not be freed after the last lease was closed: a "
                    + "segment is in use outside any lease (a downcall or asynchronous I/O); the memory stays "
                    + "allocated (mapped): a shared arena frees it only in close()", e);
            freed.completeExceptionally(failure);
            throw failure;
        }
        freed.complete(null);
    }

    /** The name the arena is registered under. */
    public String name() {
        return name;
    }

    /**
     * Leases the arena: its memory stays allocated (mapped) until the lease is closed.
     *
     * @return an open lease; close it exactly when the work on the arena's segments is done
     * @throws ResourceUnavailableException if the arena was closed (the message names it and its
     *                                      state; counted in {@code percpu.refs.rejections})
     */
    public ArenaLease acquire() {
        return new ArenaLease(this, handle.acquire());
    }

    /**
     * Runs {@code work} with the arena leased: the memory stays allocated until {@code work} has
     * returned or thrown, and then the lease is closed. The scoped form of {@link #acquire()} for a
     * batch of accesses: the lease cannot leak, so leak detection never samples it (with
     * {@code SIMPLE}, the default, it costs what a lease costs with {@code DISABLED}); with
     * {@code PARANOID} it is tracked like any lease, holder and site included. See
     * {@link ManagedResource#withLease(java.util.function.Function)}.
     *
     * <pre>{@code
     * long sum = arena.withLease(() -> {
     *     long s = 0;
     *     for (long i = 0; i < segment.byteSize() / 8; i++) {
     *         s += segment.getAtIndex(ValueLayout.JAVA_LONG, i);
     *     }
     *     return s;
     * });
     * }</pre>
     *
     * @return what {@code work} returned
     * @throws ResourceUnavailableException if the arena was closed ({@code work} does not run; the
     *                                      message names the arena and its state)
     * @throws NullPointerException         if {@code work} is null
     */
    public <R> R withLease(Supplier<? extends R> work) {
        Objects.requireNonNull(work, "work");
        return handle.withLease(memory -> work.get());
    }

    /**
     * Like {@link #acquire()}, but empty instead of the exception when the arena was closed.
     */
    public Optional<ArenaLease> tryAcquire() {
        return handle.tryAcquire().map(lease -> new ArenaLease(this, lease));
    }

    /**
     * Allocates a segment of the arena's shared memory, under a lease taken for the call (so a
     * concurrent {@link #close()} cannot free the arena in the middle of it). The segment is valid,
     * on any thread, until the memory is {@linkplain #freed() freed}.
     *
     * @throws ResourceUnavailableException if the arena was closed
     * @throws IllegalArgumentException     for a negative size or an alignment that is not a power of
     *                                      two (the JDK's checks)
     */
    @Override
    public MemorySegment allocate(long byteSize, long byteAlignment) {
        try (Lease<Arena> lease = handle.acquire()) {
            return lease.resource().allocate(byteSize, byteAlignment);
        }
    }

    /**
     * The scope of the shared arena: alive until the memory is freed, so
     * {@code scope().isAlive()} is {@code false} exactly when {@link #freed()} has completed normally.
     */
    @Override
    public MemorySegment.Scope scope() {
        return scope;
    }

    /**
     * Kills the arena: new leases and allocations are refused from the moment this returns; the
     * memory is freed on the registry's callback executor when the last open lease is closed (at
     * once, there, if none is open). Returns at once: it never waits for holders, never spins and
     * never throws because of them.
     *
     * @throws IllegalStateException if the arena was already closed (the message names it and its
     *                               state), as {@link Arena#close()} requires; nothing changes
     */
    @Override
    public void close() {
        kill();
    }

    /**
     * {@link #close()}, returning the stage that completes when the kill is confirmed (every thread
     * that can still lease sees the arena dying), strictly before the memory is freed.
     *
     * @throws IllegalStateException if the arena was already closed
     */
    public CompletionStage<Void> kill() {
        return handle.tryKill().orElseThrow(() -> new IllegalStateException("arena '" + name + "' ["
                + handle.state() + "]: close() on an arena that was already closed"));
    }

    /**
     * Completes, on the registry's callback executor, once the memory is gone: the last lease was
     * closed after {@link #close()} and the shared arena's own close returned, so every segment of
     * this arena now fails with {@link IllegalStateException}. Completes exceptionally if the JDK
     * refused to close (a segment in use outside any lease; see the class comment).
     */
    public CompletionStage<Void> freed() {
        return freed.minimalCompletionStage();
    }

    /** The arena's state in the registry: LIVE, DYING (closed, leases open), RELEASING, RELEASED. */
    public RefState state() {
        return handle.state();
    }

    /** The arena's entry as the registry describes it: state, leases in flight, age, time dying. */
    public RefInfo info() {
        return handle.info();
    }

    /** The arena's open leases now, with their holders when leak detection tracks them. */
    public OpenLeases openLeases() {
        return handle.openLeases();
    }

    @Override
    public String toString() {
        return "DrainingArena['" + name + "' " + handle.state() + "]";
    }
}
