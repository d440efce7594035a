package io.percpuref.ffm;

import io.percpuref.registry.Lease;

import java.lang.foreign.Arena;

/**
 * One lease on a {@link DrainingArena} (or a {@link MappedFileGroup}): while it is open the arena's
 * memory cannot be freed or unmapped, so the segments of the arena may be read and written. Take it
 * around the work, in try-with-resources:
 *
 * <pre>{@code
 * try (ArenaLease lease = arena.acquire()) {
 *     long v = segment.get(ValueLayout.JAVA_LONG, offset);
 * }
 * }</pre>
 *
 * <p>A thin wrapper on the registry's {@link Lease}: {@link #close()} puts the arena's reference
 * exactly once (a second close is a no-op, concurrent closes put once between them, any thread may
 * close), and a lease that is garbage-collected unclosed is a leak that leak detection reports with
 * its acquisition site (the frame after {@code DrainingArena.acquire}). It does not hand out the
 * underlying JDK arena, so nobody can close the memory past the leases.
 */
public final class ArenaLease implements AutoCloseable {

    /** The arena this lease keeps alive. */
    private final DrainingArena arena;
    /** The registry lease on the arena's ref; its resource is the JDK shared arena. */
    private final Lease<Arena> lease;

    ArenaLease(DrainingArena arena, Lease<Arena> lease) {
        this.arena = arena;
        this.lease = lease;
    }

    /**
     * The leased arena.
     *
     * @throws IllegalStateException if this lease is closed (the message names the arena and its
     *                               state)
     */
    public DrainingArena arena() {
        lease.resource(); // throws, naming the resource and its state, once this lease is closed
        return arena;
    }

    /**
     * Takes another, independent lease on the same arena on behalf of this open one (for fanning
     * out asynchronous work); it succeeds while the arena is closing, since this lease keeps the
     * memory alive. Must not race this lease's own {@link #close()}.
     *
     * @throws IllegalStateException if this lease is closed
     */
    public ArenaLease retain() {
        return new ArenaLease(arena, lease.retain());
    }

    /**
     * Puts this lease's reference, once; later calls do nothing. If the arena was closed and this was
     * its last lease, the memory is freed on the registry's callback executor (not in this thread,
     * unless the registry uses a direct executor).
     */
    @Override
    public void close() {
        lease.close();
    }

    @Override
    public String toString() {
        return "ArenaLease[" + arena + "]";
    }
}
