package io.percpuref.registry;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;

/**
 * A lease: one reference on an entry's {@link io.percpuref.PercpuRef}, taken by
 * {@code tryGetLive()} in {@link ManagedEntry#acquire()} and put back by {@link #close()}.
 *
 * <p>Cost: an untracked lease is this object only (two references and an int); {@code close()} is
 * one uncontended CAS on this object plus the ref's {@code put()}, which in per-CPU mode is one CAS
 * on the calling thread's stripe. Nothing shared by the registry is touched. A tracked lease also
 * carries a {@link LeakRecord}.
 */
final class RefLease<T> implements Lease<T> {

    private static final VarHandle CLOSED;

    static {
        try {
            CLOSED = MethodHandles.lookup().findVarHandle(RefLease.class, "closed", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The resource this lease holds a reference on. */
    private final ManagedEntry<T> entry;
    /** The leak-tracking record, or null for an untracked lease. */
    private final LeakRecord leak;
    /** 0 while open, 1 once closed; set once, by CAS, by the closer that puts the reference. */
    private volatile int closed;

    RefLease(ManagedEntry<T> entry, boolean tracked) {
        this.entry = entry;
        this.leak = tracked ? entry.track(this) : null;
    }

    @Override
    public T resource() {
        try {
            if (closed != 0) {
                throw new IllegalStateException("lease of " + entry.describe()
                        + " is closed: resource() may only be called while the lease is open");
            }
            return entry.resource;
        } finally {
            // The lease must not look unreachable to the leak detector while it hands out the resource.
            Reference.reachabilityFence(this);
        }
    }

    @Override
    public Lease<T> retain() {
        try {
            if (closed != 0) {
                throw new IllegalStateException("lease of " + entry.describe()
                        + " is closed: retain() needs an open lease");
            }
            return entry.retained();
        } finally {
            // This lease's reference must stay counted (not reclaimed as a leak) until the get is done.
            Reference.reachabilityFence(this);
        }
    }

    @Override
    public void close() {
        try {
            // Exactly one closer wins this CAS and puts; later or concurrent closes are no-ops.
            if (!CLOSED.compareAndSet(this, 0, 1)) {
                return;
            }
            LeakRecord r = leak;
            if (r == null || r.close()) {
                entry.ref.put();
            }
        } finally {
            // Keeps this lease strongly reachable until the put is done: otherwise the JIT may treat it
            // as dead after the last field read, and the leak detector could reclaim (put) it mid-close.
            Reference.reachabilityFence(this);
        }
    }

    /** The leak-tracking record, or null if this lease is not tracked; for tests that simulate the GC. */
    LeakRecord leakRecord() {
        return leak;
    }

    /** For example {@code Lease[aio-ctx-7, open]}. */
    @Override
    public String toString() {
        return "Lease[" + entry.name() + (closed != 0 ? ", closed]" : ", open]");
    }
}
