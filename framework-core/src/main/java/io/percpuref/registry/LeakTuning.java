package io.percpuref.registry;

import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A registry's leak detection setting, changeable while it runs ({@link RefRegistry#setLeakDetection},
 * {@link RefRegistry#setLeakSamplingInterval}).
 *
 * <p>The setting is one immutable {@link Setting} in a volatile field, so a reader sees level,
 * interval and the rate derived from them together. Changes are serialized by a lock (they are rare
 * and made by an operator) and then pushed to every entry by the registry; each entry keeps its own
 * copy of the rate, which is all a lease reads ({@link ManagedEntry#applySampling()} explains why
 * the copies converge on the latest setting however changes race registrations and kills).
 *
 * <p>What a change cannot do: leases already open keep the tracking they got at acquire (a tracked
 * lease stays tracked, so its leak is still reported; an untracked one cannot be attributed after
 * the fact), and a dying resource tracks every lease whatever the setting.
 */
final class LeakTuning {

    /**
     * One leak detection setting.
     *
     * @param level    the leak detection level
     * @param interval the sampling interval (meaningful with SIMPLE, kept with the others)
     * @param rate     what leases read: {@link ManagedEntry#TRACK_NONE}, {@link ManagedEntry#TRACK_ALL},
     *                 or the interval for SIMPLE (one lease in {@code interval})
     */
    record Setting(LeakDetection level, int interval, int rate) {

        static Setting of(LeakDetection level, int interval) {
            return new Setting(level, interval, switch (level) {
                case DISABLED -> ManagedEntry.TRACK_NONE;
                case SIMPLE -> interval; // 1 means every lease: the same as TRACK_ALL
                case PARANOID -> ManagedEntry.TRACK_ALL;
            });
        }
    }

    /** Serializes changes, so that two concurrent changes cannot mix their level and interval. */
    private final ReentrantLock lock = new ReentrantLock();
    /** The current setting; replaced as a whole. */
    private volatile Setting setting;

    LeakTuning(LeakDetection level, int interval) {
        this.setting = Setting.of(level, interval);
    }

    Setting setting() {
        return setting;
    }

    /** The rate leases of newly registered and live resources use from now on. */
    int rate() {
        return setting.rate();
    }

    /**
     * Replaces the level, the interval, or both (a null argument keeps the current one).
     *
     * @return the setting before and after, as {@code [previous, current]}
     */
    Setting[] change(LeakDetection level, Integer interval) {
        lock.lock();
        try {
            Setting previous = setting;
            Setting next = Setting.of(Objects.requireNonNullElse(level, previous.level()),
                    Objects.requireNonNullElse(interval, previous.interval()));
            setting = next;
            return new Setting[] {previous, next};
        } finally {
            lock.unlock();
        }
    }
}
