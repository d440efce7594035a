package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.ref.WeakReference;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Adversarial review of issue 10's stripe probe: {@code PercpuRef.PROBE} is a static
 * {@code ThreadLocal<Probe>} whose value is an instance of a class of the library. A pooled
 * thread (a servlet container's worker, a shared executor) that once counted on an inflated ref
 * keeps, in its ThreadLocalMap, a strong reference to a {@code Probe}, hence to its class, its
 * class loader, and through {@code PercpuRef.PROBE} (a static field of a class of that loader) to
 * the ThreadLocal key itself, so the entry is never expunged: every undeploy/redeploy of an
 * application that uses the library (the Spring Boot starter in a WAR) leaks the whole
 * application class loader per pool thread. Before issue 10 (stripe from the thread id, no
 * ThreadLocal) nothing pinned it. Striped64 avoids this by keeping its probe in a field of
 * {@link Thread}; an {@code int[]} value (a bootstrap class) would not pin the loader either.
 */
class ProbeClassLoaderLeakTest {

    /** Stands for a container's long-lived worker thread, which outlives the application. */
    private final ExecutorService pooledThread = Executors.newSingleThreadExecutor();

    @AfterEach
    void stopThread() throws InterruptedException {
        pooledThread.shutdownNow();
        pooledThread.awaitTermination(10, TimeUnit.SECONDS);
    }

    @Test
    void controlAnUninflatedRefLeavesNothingBehindInAPooledThread() throws Exception {
        assertThat(loaderCollectedAfterUse(false, false)).as("the application's class loader is collectable").isTrue();
    }

    @Test
    void controlWithTheProbeRemovedFromThePooledThreadTheLoaderIsCollectable() throws Exception {
        assertThat(loaderCollectedAfterUse(true, true)).as("the PROBE entry is what pins the loader").isTrue();
    }

    @Test
    void countingOnAStripeTableMustNotPinTheApplicationClassLoaderFromAPooledThread() throws Exception {
        assertThat(loaderCollectedAfterUse(true, false))
                .as("the application's class loader is collectable after undeploy, although a pooled"
                        + " thread once counted on a stripe table (PROBE ThreadLocal holds a Probe)")
                .isTrue();
    }

    private boolean loaderCollectedAfterUse(boolean inflated, boolean removeProbe) throws Exception {
        WeakReference<ClassLoader> loader = useInFreshLoader(inflated, removeProbe);
        List<byte[]> pressure = new ArrayList<>();
        for (int i = 0; i < 50 && loader.get() != null; i++) {
            System.gc();
            pressure.add(new byte[1 << 20]);
            if (pressure.size() > 16) {
                pressure.clear();
            }
            Thread.sleep(20);
        }
        return loader.get() == null;
    }

    /** "Deploys" the library in its own class loader, counts once on the pooled thread, "undeploys". */
    private WeakReference<ClassLoader> useInFreshLoader(boolean inflated, boolean removeProbe) throws Exception {
        URL classes = PercpuRef.class.getProtectionDomain().getCodeSource().getLocation();
        URLClassLoader app = new URLClassLoader(new URL[] {classes}, ClassLoader.getPlatformClassLoader());
        Class<?> refClass = app.loadClass(PercpuRef.class.getName());
        assertThat(refClass).isNotSameAs(PercpuRef.class);
        Consumer<Object> release = r -> { };
        pooledThread.submit(() -> {
            Object builder = refClass.getMethod("builder").invoke(null);
            builder.getClass().getMethod("onRelease", Consumer.class).invoke(builder, release);
            Object ref = builder.getClass().getMethod("build").invoke(builder);
            if (inflated) {
                Method inflate = refClass.getDeclaredMethod("inflate");
                inflate.setAccessible(true);
                inflate.invoke(ref);
            }
            refClass.getMethod("get").invoke(ref);
            refClass.getMethod("put").invoke(ref);
            if (removeProbe) {
                // diagnosis of the failure above; once the probe no longer lives in a ThreadLocal
                // field, there is nothing to remove and the control holds trivially
                for (java.lang.reflect.Field f : refClass.getDeclaredFields()) {
                    if (ThreadLocal.class.isAssignableFrom(f.getType())) {
                        f.setAccessible(true);
                        ((ThreadLocal<?>) f.get(null)).remove();
                    }
                }
            }
            return null;
        }).get(10, TimeUnit.SECONDS);
        app.close();
        return new WeakReference<>(app);
    }
}
