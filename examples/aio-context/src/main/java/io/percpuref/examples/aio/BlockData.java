package io.percpuref.examples.aio;

import java.util.SplittableRandom;

/**
 * The bytes the workload writes to each block: pseudo-random, different for every (seed, file,
 * block), and reproducible, so a read-back can be checked without keeping a copy of what was
 * written. A block that landed at the wrong offset or in the wrong file fails the check.
 */
final class BlockData {

    /** Fibonacci-hashing multiplier: spreads neighbouring (file, block) pairs over distant seeds. */
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private BlockData() {
    }

    /** The {@code size} bytes of block {@code block} of file {@code file}. */
    static byte[] of(long seed, int file, long block, int size) {
        byte[] bytes = new byte[size];
        new SplittableRandom(seed ^ (file + 1) * GOLDEN ^ Long.rotateLeft(block * GOLDEN, 29)).nextBytes(bytes);
        return bytes;
    }

    /** Whether {@code actual} holds exactly block {@code block} of file {@code file}. */
    static boolean matches(long seed, int file, long block, byte[] actual) {
        return java.util.Arrays.equals(of(seed, file, block, actual.length), actual);
    }
}
