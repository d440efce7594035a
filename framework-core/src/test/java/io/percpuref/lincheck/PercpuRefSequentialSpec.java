package io.percpuref.lincheck;

/**
 * The sequential specification Lincheck checks {@link io.percpuref.PercpuRef} against: a ref built
 * with {@code allowReinit()}, as SPEC §3.2 describes it when one operation runs at a time.
 *
 * <p>State: the life-cycle {@link Phase}, the references each thread holds, and the kills whose
 * confirmation (which drops the initial reference) is still pending in the killing thread. The
 * count is therefore {@code (LIVE ? 1 : 0) + sum(held) + sum(pendingConfirm) + handedOff}: the live
 * initial reference, the holders, the initial references of kills not yet confirmed, and references
 * handed off by their taker and not yet put by another thread. The put or confirm
 * that takes a dying ref's count to zero releases; its result says so, which is how releases are
 * counted: a second release in one life, a missing one or one in the wrong call changes a result.
 *
 * <p>Each method has the signature of the {@link PercpuRefLincheckTest} operation of the same name
 * and returns the same values. Thread ids are those of Lincheck's {@code ThreadIdGen}.
 */
public final class PercpuRefSequentialSpec {

    /** Where the ref is in its life. */
    enum Phase {
        /** The initial reference is held; {@code tryGetLive()} succeeds. */
        LIVE,
        /** Killed: {@code tryGetLive()} fails; holders (and unconfirmed kills) keep the count up. */
        DYING,
        /** The count reached zero and release ran; only {@code resurrect()} brings it back. */
        RELEASED
    }

    private Phase phase = Phase.LIVE;
    /** References held by each thread id, taken by get/tryGet/tryGetLive and dropped by put. */
    private final int[] held = new int[PercpuRefLincheckTest.THREAD_IDS];
    /** Per thread id: 1 if it killed and has not yet confirmed (its initial reference is counted). */
    private final int[] pendingConfirm = new int[PercpuRefLincheckTest.THREAD_IDS];
    /** References handed off by their taker and not yet put. */
    private int handedOff;

    public PercpuRefSequentialSpec() {
    }

    public String get(int thread) {
        if (held[thread] == 0) {
            return PercpuRefLincheckTest.NONE_HELD;
        }
        held[thread]++;
        return "got";
    }

    public boolean tryGet(int thread) {
        if (phase == Phase.RELEASED) {
            return false;
        }
        held[thread]++;
        return true;
    }

    public boolean tryGetLive(int thread) {
        if (phase != Phase.LIVE) {
            return false;
        }
        held[thread]++;
        return true;
    }

    public String getTwo(int thread) {
        if (held[thread] == 0) {
            return PercpuRefLincheckTest.NONE_HELD;
        }
        held[thread] += 2;
        return "got";
    }

    public String putTwo(int thread) {
        if (held[thread] < 2) {
            return PercpuRefLincheckTest.NONE_HELD;
        }
        held[thread] -= 2;
        return releaseIfZero("put");
    }

    public String handOff(int thread) {
        if (held[thread] == 0) {
            return PercpuRefLincheckTest.NONE_HELD;
        }
        held[thread]--;
        handedOff++;
        return "handed off";
    }

    public String takeHandedOff(int thread) {
        if (handedOff == 0) {
            return PercpuRefLincheckTest.NONE_HELD;
        }
        handedOff--;
        held[thread]++;
        return "taken over";
    }

    /** Inflation is invisible to the contract. */
    public void inflate() {
    }

    /** So is growing the stripe table. */
    public void grow() {
    }

    /** A live force-atomic ref still holds its initial reference: nothing observable changes. */
    public String switchToAtomic() {
        return "switched";
    }

    public String switchToPercpu() {
        return "switched";
    }

    public String reinit() {
        if (phase != Phase.RELEASED) {
            return PercpuRefLincheckTest.ILLEGAL_STATE;
        }
        phase = Phase.LIVE;
        return "reinitialized";
    }

    public String put(int thread) {
        if (held[thread] == 0) {
            return PercpuRefLincheckTest.NONE_HELD;
        }
        held[thread]--;
        return releaseIfZero("put");
    }

    public String kill(int thread) {
        if (pendingConfirm[thread] != 0) {
            return PercpuRefLincheckTest.CONFIRM_PENDING;
        }
        if (phase != Phase.LIVE) {
            return PercpuRefLincheckTest.ILLEGAL_STATE;
        }
        // The initial reference stays counted until this thread confirms.
        phase = Phase.DYING;
        pendingConfirm[thread] = 1;
        return "killed";
    }

    public String confirm(int thread) {
        if (pendingConfirm[thread] == 0) {
            return PercpuRefLincheckTest.NOTHING_TO_CONFIRM;
        }
        pendingConfirm[thread] = 0;
        return releaseIfZero("confirmed");
    }

    public String resurrect() {
        if (phase == Phase.LIVE) {
            return PercpuRefLincheckTest.ILLEGAL_STATE;
        }
        // From DYING the holders keep their references; from RELEASED a new life starts.
        phase = Phase.LIVE;
        return "resurrected";
    }

    public boolean isDying() {
        return phase != Phase.LIVE;
    }

    public boolean isZero() {
        return phase == Phase.RELEASED;
    }

    /** Every reference is counted, so the count covers thread 0's and the initial one. */
    public boolean countCoversThreadZero() {
        return true;
    }

    /** Releases if the ref is dying and its count just reached zero. */
    private String releaseIfZero(String outcome) {
        if (phase == Phase.DYING && sum(held) + sum(pendingConfirm) + handedOff == 0) {
            phase = Phase.RELEASED;
            return outcome + PercpuRefLincheckTest.RELEASED_SUFFIX;
        }
        return outcome;
    }

    private static int sum(int[] perThread) {
        int sum = 0;
        for (int n : perThread) {
            sum += n;
        }
        return sum;
    }
}
