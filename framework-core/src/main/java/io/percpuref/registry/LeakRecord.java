package io.percpuref.registry;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.PhantomReference;
import java.time.Duration;

/**
 * The tracking record of one tracked lease: a phantom reference to the lease plus who acquired it.
 *
 * <p>Protocol. A record starts {@code OPEN} and is strongly held among its entry's holders (so the
 * JVM will enqueue it). Exactly one of two transitions wins, by CAS on {@link #state}:
 * <ul>
 *   <li>{@code OPEN -> CLOSED} in {@link Lease#close()}: the record is cleared (never enqueued) and
 *   leaves the holders; the closing thread puts the lease's reference;</li>
 *   <li>{@code OPEN -> LEAKED} on the leak-detector thread after the JVM enqueued the record, which
 *   it does only once the lease is unreachable: the leak is reported and, with
 *   {@code reclaimLeaks}, the reference is put on the lease's behalf.</li>
 * </ul>
 * So the reference is put at most once whatever the interleaving. {@code close()} keeps the lease
 * reachable until it has won ({@link java.lang.ref.Reference#reachabilityFence}), so a lease that is
 * being closed is never reported as leaked.
 */
final class LeakRecord extends PhantomReference<Object> {

    private static final int OPEN = 0;
    private static final int CLOSED = 1;
    private static final int LEAKED = 2;

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(LeakRecord.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The resource the lease is on. */
    private final ManagedEntry<?> entry;
    /** Key of this record among its entry's holders. */
    private final long id;
    /** Name of the thread that acquired the lease. */
    private final String acquiredBy;
    /** Where the lease was acquired. */
    private final AcquisitionTrace trace;
    /** {@link System#nanoTime()} at acquire. */
    private final long acquiredAt;
    /** OPEN, CLOSED or LEAKED; leaves OPEN once, by CAS. */
    private volatile int state;

    LeakRecord(Object lease, ManagedEntry<?> entry, long id) {
        super(lease, LeakDetector.QUEUE);
        this.entry = entry;
        this.id = id;
        this.acquiredBy = Thread.currentThread().getName();
        this.trace = new AcquisitionTrace(entry.name(), acquiredBy);
        this.acquiredAt = System.nanoTime();
    }

    /**
     * The lease is being closed.
     *
     * @return true if the caller must put the lease's reference; false if the leak path already
     *         owns it (impossible while the lease is reachable, kept as the second line of defence)
     */
    boolean close() {
        if (!STATE.compareAndSet(this, OPEN, CLOSED)) {
            return false;
        }
        clear();
        entry.untrack(this);
        return true;
    }

    /**
     * Called on the process-wide leak-detector thread once the JVM enqueued this record. Hands the
     * leak to the owning registry's hand-off threads: no user code runs on the detector thread.
     */
    void collected() {
        if (STATE.compareAndSet(this, OPEN, LEAKED)) {
            entry.registry.handOff(entry, () -> entry.leaked(this));
        }
    }

    long id() {
        return id;
    }

    String acquiredBy() {
        return acquiredBy;
    }

    /** {@link System#nanoTime()} at acquire. */
    long acquiredAt() {
        return acquiredAt;
    }

    AcquisitionTrace trace() {
        return trace.trimmed();
    }

    LeaseHolder toHolder(long now) {
        return new LeaseHolder(entry.name(), acquiredBy, trace(), Duration.ofNanos(Math.max(0, now - acquiredAt)));
    }
}
