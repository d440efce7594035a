package io.percpuref.registry;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;

/**
 * A lease: one reference on an entry's {@link io.percpuref.PercpuRef}, taken by
 * {@code tryGetLive()} in {@link ManagedEntry#acquire()} and put back by {@link #close()}. This class
 * is the untracked lease; {@link Tracked} adds the leak-tracking record.
 *
 * <h2>Close: exactly one put, without an atomic instruction on the common path</h2>
 * The thread that acquired the lease (its {@link #owner}) and any other thread close through
 * different paths, so that the common case, the owner closing its own lease, writes and reads
 * volatile fields of the lease but makes no compare-and-set on it. That matters for more than the
 * CAS itself: HotSpot's C2 does not scalar-replace an object on which a CAS is made, while plain and
 * volatile accesses do not stop it, so a lease acquired and closed in one compiled method (as
 * try-with-resources does) is not allocated at all (docs/registry.md, "What it costs").
 * <ul>
 *   <li>Owner: if {@link #ownerState} is not {@code OPEN}, it closed before: return. Else write
 *   {@code CLOSING} (volatile), then read {@link #other} (volatile): zero, nobody else claimed the
 *   lease, so decide {@code PUT} and put; non-zero, another thread claimed it first, so decide
 *   {@code BACKED_OFF} and return. The decision is written (release) before the put.</li>
 *   <li>Any other thread: CAS {@link #other} from 0 to 1; the loser returns (another non-owner
 *   claimed it). The winner reads {@link #ownerState} (volatile): {@code OPEN}, the owner has not
 *   started closing, so put (the owner, when it does close, will read {@code other != 0} and back
 *   off); {@code CLOSING}, wait for the owner's decision (it is two instructions away, unless the
 *   owner is descheduled); {@code PUT}, return; {@code BACKED_OFF}, put.</li>
 * </ul>
 * Why exactly one put: volatile accesses are totally ordered (the synchronization order), and each
 * read sees the last write before it in that order. The owner writes {@code CLOSING} and then reads
 * {@code other}; the other thread's winning CAS writes {@code other} and then it reads
 * {@code ownerState}. If the owner's read comes before the CAS, its write does too, so the other
 * thread reads {@code CLOSING} or a decision and follows the owner's {@code PUT}; otherwise the owner
 * reads {@code other != 0} and backs off, and the other thread puts either directly (it read
 * {@code OPEN}) or after seeing {@code BACKED_OFF}. Only the owner writes {@link #ownerState}, so its
 * own repeated closes see their earlier writes; non-owners exclude each other by the CAS.
 * {@code LeaseCloseLincheckTest} model-checks this (and finds the double put if the owner reads
 * {@code other} before writing {@code CLOSING}).
 *
 * <p>Errors inside a close: between {@code CLOSING} and the decision the owner makes no call, so a
 * {@link StackOverflowError} (thrown only at a call) cannot leave the lease {@code CLOSING}; one
 * thrown by the decision's own VarHandle call (a real call when interpreted) reopens the lease
 * before it propagates, so another thread's close puts instead of waiting for ever
 * ({@code LeaseStackOverflowTest} scans the overflow across every call of the owner's close). An
 * error inside the put the owner decided to make loses that put, as it would in any code that
 * calls {@code PercpuRef.put()}; so does one that strikes a non-owner after its winning CAS (nobody
 * waits on a non-owner: the owner then reads {@code other != 0} and backs off).
 *
 * <p>Cost: an untracked lease is this object (two references and two bytes: 24 bytes with
 * compressed oops), and only when it escapes the compiled code that acquires and closes it;
 * {@code close()} by the owner is a volatile write and read plus the ref's {@code put()} (in per-CPU
 * mode one CAS on the calling thread's stripe). A close by another thread adds one uncontended CAS
 * on the lease. Nothing shared by the registry is touched. No {@code synchronized}.
 */
class RefLease<T> implements Lease<T> {

    /** {@link #ownerState}: the owner has not closed the lease. */
    private static final byte OPEN = 0;
    /** {@link #ownerState}: the owner is closing; its decision follows. */
    private static final byte CLOSING = 1;
    /** {@link #ownerState}: the owner's close put the reference. */
    private static final byte PUT = 2;
    /** {@link #ownerState}: the owner's close found another thread's claim and left the put to it. */
    private static final byte BACKED_OFF = 3;
    /** Spins of a non-owner closer waiting for the owner's decision before it yields the CPU. */
    private static final int SPINS_BEFORE_YIELD = 64;

    private static final VarHandle OTHER;
    private static final VarHandle OWNER_STATE;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            OTHER = lookup.findVarHandle(RefLease.class, "other", byte.class);
            OWNER_STATE = lookup.findVarHandle(RefLease.class, "ownerState", byte.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The resource this lease holds a reference on. */
    final ManagedEntry<T> entry;
    /** The thread that acquired the lease: the one closer that needs no CAS. */
    private final Thread owner;
    /** OPEN, CLOSING, PUT or BACKED_OFF; written by the owner only. */
    private volatile byte ownerState;
    /** 0, or 1 once a thread other than the owner claimed the close (by CAS, among non-owners). */
    private volatile byte other;

    RefLease(ManagedEntry<T> entry) {
        this.entry = entry;
        this.owner = Thread.currentThread();
    }

    /** Whether a close has begun (by the owner or another thread): the lease may no longer be used. */
    private boolean closed() {
        return ownerState != OPEN || other != 0;
    }

    @Override
    public T resource() {
        try {
            if (closed()) {
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
            if (closed()) {
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
            if (Thread.currentThread() == owner) {
                closeByOwner();
            } else {
                closeByOther();
            }
        } finally {
            // Keeps this lease strongly reachable until the put is done: otherwise the JIT may treat it
            // as dead after the last field read, and the leak detector could reclaim (put) it mid-close.
            Reference.reachabilityFence(this);
        }
    }

    /** The owner's close: no CAS (see the class comment). */
    private void closeByOwner() {
        if (ownerState != OPEN) {
            return; // closed before, by this same thread
        }
        // From CLOSING to the decision there must be no call: a StackOverflowError (or an
        // OutOfMemoryError while linking) is thrown only at a call, and one thrown between the two
        // would leave the lease CLOSING, where another thread's close waits for ever and nobody puts.
        ownerState = CLOSING; // volatile write, then volatile read: see the class comment
        if (other != 0) {
            ownerState = BACKED_OFF; // another thread claimed it first and puts (rare: a plain volatile write)
            return;
        }
        try {
            // A real call when interpreted (the VarHandle's method handle chain), compiled to a store by C2.
            OWNER_STATE.setRelease(this, PUT);
        } catch (Throwable t) {
            // Thrown by the call before its store (nothing follows the store): the lease is still the
            // owner's. Reopen it (a field write cannot throw) so that another closer puts, or this
            // thread's next close() does; then fail this close.
            ownerState = OPEN;
            throw t;
        }
        putReference();
    }

    /** A close by any thread but the owner: claim among non-owners by CAS, then defer to the owner's decision. */
    private void closeByOther() {
        if (other != 0 || !OTHER.compareAndSet(this, (byte) 0, (byte) 1)) {
            return; // another non-owner claimed it
        }
        byte s;
        for (int spins = 0; (s = ownerState) == CLOSING; spins++) {
            if (spins < SPINS_BEFORE_YIELD) {
                Thread.onSpinWait();
            } else {
                Thread.yield(); // the owner was descheduled between its two steps
            }
        }
        if (s != PUT) {
            putReference(); // OPEN: the owner will back off; BACKED_OFF: it did
        }
    }

    /** Puts the reference; called once, by the close that won. */
    void putReference() {
        entry.ref.put();
    }

    /** The leak-tracking record, or null if this lease is not tracked; for tests that simulate the GC. */
    LeakRecord leakRecord() {
        return null;
    }

    /** For example {@code Lease[aio-ctx-7, open]}. */
    @Override
    public String toString() {
        return "Lease[" + entry.name() + (closed() ? ", closed]" : ", open]");
    }

    /**
     * A tracked lease: also carries a {@link LeakRecord}, whose own CAS ({@code OPEN -> CLOSED} against
     * the leak detector's {@code OPEN -> LEAKED}) decides whether the winning close puts.
     */
    static final class Tracked<T> extends RefLease<T> {
        /** The leak-tracking record. */
        private final LeakRecord leak;

        Tracked(ManagedEntry<T> entry) {
            super(entry);
            this.leak = entry.track(this);
        }

        @Override
        void putReference() {
            if (leak.close()) {
                entry.ref.put();
            }
        }

        @Override
        LeakRecord leakRecord() {
            return leak;
        }
    }
}
