package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledForJreRange;
import org.junit.jupiter.api.condition.JRE;

/**
 * Found by an adversarial review of 3e1e601, which had cut the switch sequence number
 * (approximateCount's seqlock) from 27 bits (bit 5 up) to 21 bits (bit 11 up) to make room for
 * constants: a reader descheduled inside readCount while the ref made 2^21 switch steps (2^20
 * switchToAtomicSync/switchToPercpu pairs, under a second) read the same state word before and
 * after and returned a torn count (2002 for 1001: the slot it read before the switches plus the
 * atomic part the switches folded it into). The constants moved to baseOwner and the sequence has
 * its 27 bits again, so the same 2^21 steps do not wrap: the reader retries and reads exactly.
 *
 * <p>Deterministic "descheduling": the reader runs in a child JVM where readCount/approximateCount
 * are interpreted (safepoint poll at every back-branch), and is Thread.suspend()ed (JDK 17-18) until
 * its stack shows it inside readCount's stripe loop, i.e. after it has read base.
 */
class SwitchSeqWrapAttack3Test {

    static final long HELD = 1000;

    @Test
    @Timeout(60)
    @EnabledForJreRange(max = JRE.JAVA_18)
    void aReaderStraddling2To21SwitchStepsReadsExactly() throws Exception {
        String out = runChild(1 << 20);
        assertThat(out).contains("SUSPENDED-IN-LOOP");
        // true count: HELD + the initial reference, constant throughout (only switches happen)
        assertThat(out).as("approximateCount with no get/put in flight, straddling 2^21 switch steps")
                .contains("READ " + (HELD + 1) + "\n");
    }

    /** Control: one pair fewer (no wrap): the seqlock catches the straddle and the read is exact. */
    @Test
    @Timeout(60)
    @EnabledForJreRange(max = JRE.JAVA_18)
    void aReaderStraddlingOneStepFewerRetriesAndIsExact() throws Exception {
        String out = runChild((1 << 20) - 1);
        assertThat(out).contains("SUSPENDED-IN-LOOP");
        assertThat(out).contains("READ " + (HELD + 1) + "\n");
    }

    private static String runChild(int pairs) throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process process = new ProcessBuilder(List.of(java.toString(),
                "-XX:CompileCommand=quiet",
                "-XX:CompileCommand=exclude,io.percpuref.PercpuRef::readCount",
                "-XX:CompileCommand=exclude,io.percpuref.PercpuRef::approximateCount",
                "-cp", System.getProperty("java.class.path"), Child.class.getName(), Integer.toString(pairs)))
                .redirectErrorStream(true)
                .start();
        byte[] bytes = process.getInputStream().readAllBytes();
        assertThat(process.waitFor(50, TimeUnit.SECONDS)).isTrue();
        String out = new String(bytes, StandardCharsets.UTF_8);
        System.out.println(out);
        return out;
    }

    /** The child JVM: one reader, suspended inside readCount's loop; main switches {@code pairs} times. */
    public static final class Child {
        @SuppressWarnings({"deprecation", "removal"})
        public static void main(String[] args) throws Exception {
            int pairs = Integer.parseInt(args[0]);
            findLoopLines();
            System.out.println("readCount loop lines " + LOOP_FIRST + ".." + LOOP_LAST);
            PercpuRef ref = PercpuRef.builder().name("seq-wrap").stripes(64).onRelease(r -> { }).build();
            ref.get(HELD); // main owns base: HELD references sit in base
            ref.inflate(); // a table: readCount loops over its stripes after reading base
            for (int i = 0; i < 5; i++) {
                ref.growForTest(); // a longer loop: more polls inside readCount (64 stripes)
            }
            AtomicLong result = new AtomicLong(-1);
            AtomicLong phase = new AtomicLong();
            Thread reader2 = new Thread(() -> {
                for (;;) {
                    long v = ref.approximateCount(Integer.MAX_VALUE);
                    if (phase.get() == 2) {
                        result.set(v);
                        return;
                    }
                }
            }, "reader2");
            reader2.start();
            Thread.sleep(100);
            long deadline = System.nanoTime() + 20_000_000_000L;
            boolean found = false;
            while (System.nanoTime() < deadline) {
                reader2.suspend();
                StackTraceElement[] st = reader2.getStackTrace();
                boolean inLoop = false;
                for (int k = 0; k < Math.min(3, st.length); k++) {
                    if (st[k].getMethodName().equals("readCount") || st[k].getMethodName().equals("slotVolatile")) {
                        inLoop = st[k].getMethodName().equals("slotVolatile")
                                || k == 0 && st[k].getMethodName().equals("readCount") && inLoopLine(st[k]);
                        break;
                    }
                }
                if (inLoop) {
                    found = true;
                    System.out.println("SUSPENDED-IN-LOOP " + st[0]);
                    long t0 = System.nanoTime();
                    for (int i = 0; i < pairs; i++) {
                        ref.switchToAtomicSync();
                        ref.switchToPercpu();
                    }
                    System.out.println("switched " + pairs + " pairs in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
                    phase.set(2); // the suspended call is the one recorded
                    reader2.resume();
                    break;
                }
                reader2.resume();
                Thread.onSpinWait();
            }
            if (!found) {
                System.out.println("NEVER-SUSPENDED-IN-LOOP");
                System.exit(0);
            }
            reader2.join(10_000);
            System.out.println("READ " + result.get());
            System.out.println("EXACT " + ref.approximateCount());
            System.exit(0);
        }

        private static boolean inLoopLine(StackTraceElement e) {
            return e.getLineNumber() >= LOOP_FIRST && e.getLineNumber() <= LOOP_LAST;
        }

        /** readCount's lines after it has read base, up to (not including) its read of count. */
        static int LOOP_FIRST;
        static int LOOP_LAST;

        static void findLoopLines() throws java.io.IOException {
            List<String> lines = java.nio.file.Files.readAllLines(
                    Path.of("src/main/java/io/percpuref/PercpuRef.java"));
            int start = -1;
            for (int i = 0; i < lines.size(); i++) {
                String l = lines.get(i).trim();
                if (l.startsWith("private long readCount(")) {
                    start = i;
                } else if (start >= 0 && LOOP_FIRST == 0 && l.equals("long v = base;")) {
                    LOOP_FIRST = i + 2; // 1-based line after the read of base
                } else if (start >= 0 && LOOP_FIRST != 0 && l.startsWith("long atomic = count")) {
                    LOOP_LAST = i; // 1-based line before the read of count
                    return;
                }
            }
            throw new IllegalStateException("readCount not found");
        }
    }
}
