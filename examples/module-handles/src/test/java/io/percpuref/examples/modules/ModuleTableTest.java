package io.percpuref.examples.modules;

import io.percpuref.registry.RefInfo;
import io.percpuref.registry.RefRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.ref.WeakReference;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** Modules from real jars behind try_module_get/module_put-style references. */
class ModuleTableTest {

    @TempDir
    Path dir;

    private final RefRegistry registry = RefRegistry.builder().build();
    private final ModuleTable modules = new ModuleTable(registry);
    private Map<String, Path> jars;

    @BeforeEach
    void extractJars() throws IOException {
        jars = ModuleJars.extractTo(dir);
    }

    @AfterEach
    void tearDown() {
        modules.close();
        registry.shutdown(Duration.ofSeconds(5));
    }

    @Test
    void eachModuleIsLoadedFromItsJarInItsOwnClassLoader() throws Exception {
        modules.load(jars.get("greeter-1.0"));
        modules.load(jars.get("rot13-1.0"));

        try (ModuleRef greeter = modules.tryModuleGet("greeter").orElseThrow();
             ModuleRef rot13 = modules.tryModuleGet("rot13").orElseThrow()) {
            assertThat(greeter.call("world")).isEqualTo("Hello, world! (greeter 1.0)");
            assertThat(rot13.call("percpu_ref")).isEqualTo("crepch_ers");
            assertThat(greeter.module()).isEqualTo(new ModuleDescriptor("greeter", "1.0",
                    "com.example.greeter.Greeter", jars.get("greeter-1.0")));
            assertThat(greeter.classLoader()).isInstanceOf(URLClassLoader.class)
                    .isNotSameAs(rot13.classLoader())
                    .isNotSameAs(getClass().getClassLoader());
            assertThat(greeter.classLoader().getParent()).isSameAs(LoadableModule.class.getClassLoader());
        }
        assertThatThrownBy(() -> Class.forName("com.example.greeter.Greeter"))
                .as("module classes are not on the host's class path")
                .isInstanceOf(ClassNotFoundException.class);
    }

    @Test
    void aModuleRefHoldsOneReferenceUntilModulePut() throws Exception {
        modules.load(jars.get("greeter-1.0"));

        ModuleRef ref = modules.tryModuleGet("greeter").orElseThrow();
        assertThat(inFlight("greeter#")).isEqualTo(1);

        modules.modulePut(ref);
        assertThat(inFlight("greeter#")).isZero();
        assertThatThrownBy(() -> ref.call("late")).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void unloadWaitsForTheCallsInFlightThenRunsExitAndClosesTheClassLoader() throws Exception {
        modules.load(jars.get("greeter-1.0"));
        ModuleRef held = modules.tryModuleGet("greeter").orElseThrow();
        URLClassLoader loader = (URLClassLoader) held.classLoader();

        CompletableFuture<Unloaded> unloaded = modules.unload("greeter").toCompletableFuture();

        assertThat(modules.tryModuleGet("greeter")).isEmpty();
        assertThatThrownBy(() -> modules.call("greeter", "x")).isInstanceOf(ModuleNotLoadedException.class)
                .hasMessage("module 'greeter' is not loaded");
        await().during(Duration.ofMillis(200)).atMost(Duration.ofSeconds(2)).until(() -> !unloaded.isDone());
        assertThat(loader.findResource("com/example/greeter/greeting.txt")).as("loader still open").isNotNull();
        assertThat(held.call("still here")).isEqualTo("Hello, still here! (greeter 1.0)");

        modules.modulePut(held);

        Unloaded report = unloaded.get();
        assertThat(report.module().toString()).isEqualTo("greeter 1.0");
        assertThat(report.calls()).isEqualTo(1);
        assertThat(report.inFlightAtKill()).isEqualTo(1);
        assertThat(report.drainTime()).isGreaterThanOrEqualTo(Duration.ofMillis(200));
        assertThat(loader.findResource("com/example/greeter/greeting.txt")).as("loader closed").isNull();
        assertThat(modules.violations()).isZero();
    }

    @Test
    void reloadMovesCallersToTheNewVersionWhileTheyKeepCallingAndNoCallMeetsAClosedLoader() throws Exception {
        modules.load(jars.get("greeter-1.0"));
        Map<String, LongAdder> answeredBy = new ConcurrentHashMap<>();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        LongAdder refused = new LongAdder();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> callers = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Thread t = new Thread(() -> {
                while (!stop.get()) {
                    try (ModuleRef ref = modules.tryModuleGet("greeter").orElse(null)) {
                        if (ref == null) {
                            refused.increment();
                            continue;
                        }
                        String answer = ref.call("caller");
                        String version = ref.module().version();
                        if (!answer.contains(version.equals("1.0") ? "(greeter 1.0)" : "greeter 2.0")) {
                            failures.add(new AssertionError("greeter " + version + " answered '" + answer + "'"));
                        }
                        answeredBy.computeIfAbsent(version, v -> new LongAdder()).increment();
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }
            });
            t.start();
            callers.add(t);
        }

        List<CompletableFuture<Unloaded>> retired = new ArrayList<>();
        for (int round = 0; round < 10; round++) {
            long before = answeredBy.values().stream().mapToLong(LongAdder::sum).sum();
            await().until(() -> answeredBy.values().stream().mapToLong(LongAdder::sum).sum() > before + 20);
            retired.add(modules.reload(jars.get(round % 2 == 0 ? "greeter-2.0" : "greeter-1.0")).toCompletableFuture());
        }
        long before = answeredBy.values().stream().mapToLong(LongAdder::sum).sum();
        await().until(() -> answeredBy.values().stream().mapToLong(LongAdder::sum).sum() > before + 20);
        stop.set(true);
        for (Thread t : callers) {
            t.join();
        }

        CompletableFuture.allOf(retired.toArray(new CompletableFuture<?>[0])).get();
        assertThat(failures).isEmpty();
        assertThat(refused.sum()).as("a reload leaves no gap").isZero();
        assertThat(answeredBy).containsOnlyKeys("1.0", "2.0");
        assertThat(modules.violations()).isZero();
        assertThat(retired).allSatisfy(f -> assertThat(f.join().calls()).isPositive());
        assertThat(registry.releaseCount()).isEqualTo(10);
        assertThat(modules.descriptor("greeter")).map(ModuleDescriptor::version).contains("1.0");
    }

    @Test
    void theOldClassLoaderBecomesUnreachableAfterTheRelease() throws Exception {
        modules.load(jars.get("greeter-1.0"));
        WeakReference<ClassLoader> old = loaderOf("greeter");

        modules.reload(jars.get("greeter-2.0")).toCompletableFuture().get();
        modules.call("greeter", "new callers");

        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50)).until(() -> {
            System.gc();
            return old.get() == null;
        });
        assertThat(loaderOf("greeter").get()).isNotNull();
    }

    @Test
    void loadingANameThatIsLoadedFailsAndLeavesTheLoadedModuleAlone() throws Exception {
        modules.load(jars.get("greeter-1.0"));

        assertThatThrownBy(() -> modules.load(jars.get("greeter-2.0")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("module 'greeter' is already loaded");
        assertThat(modules.call("greeter", "x")).isEqualTo("Hello, x! (greeter 1.0)");
        assertThat(modules.loaded()).extracting(ModuleDescriptor::toString).containsExactly("greeter 1.0");
    }

    @Test
    void aJarWithoutModuleManifestIsNotAModule() throws Exception {
        Path jar = dir.resolve("plain.jar");
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        try (OutputStream out = Files.newOutputStream(jar)) {
            new JarOutputStream(out, manifest).close(); // an empty jar whose manifest has no module attributes
        }

        assertThatThrownBy(() -> modules.load(jar))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(jar + " is not a module jar: its manifest has no Module-Name");
    }

    @Test
    void reloadOrUnloadOfAModuleThatIsNotLoadedFails() {
        assertThatThrownBy(() -> modules.reload(jars.get("greeter-2.0")))
                .isInstanceOf(ModuleNotLoadedException.class);
        assertThatThrownBy(() -> modules.unload("greeter"))
                .isInstanceOf(ModuleNotLoadedException.class);
        assertThat(modules.tryModuleGet("greeter")).isEmpty();
    }

    private WeakReference<ClassLoader> loaderOf(String name) {
        try (ModuleRef ref = modules.tryModuleGet(name).orElseThrow()) {
            return new WeakReference<>(ref.classLoader());
        }
    }

    private long inFlight(String namePrefix) {
        return registry.snapshot().stream().filter(i -> i.name().startsWith(namePrefix))
                .mapToLong(RefInfo::inFlight).sum();
    }
}
