package io.percpuref.examples.modules;

import io.percpuref.registry.CurrentResource;
import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;

import java.io.IOException;
import java.net.URL;
import java.net.URLConnection;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Loadable modules behind managed references: the kernel's module list with
 * {@code try_module_get}/{@code module_put}, over real jars each loaded in its own class loader.
 *
 * <pre>{@code
 * modules.load(Path.of("greeter-1.0.jar"));                          // insmod
 * try (ModuleRef ref = modules.tryModuleGet("greeter").orElseThrow()) { // try_module_get
 *     ref.call("world");
 * }                                                                  // module_put
 * modules.reload(Path.of("greeter-2.0.jar"));                        // callers move over; 1.0 drains
 * modules.unload("greeter");                                         // rmmod
 * }</pre>
 *
 * <h2>How it works</h2>
 * Each module name is a {@link CurrentResource} of the {@link RefRegistry}: one name whose resource
 * (the loaded version) is replaced over time, each version registered as {@code "<name>#<n>"}.
 * <ul>
 *   <li>{@link #load}: reads the jar's {@link ModuleDescriptor}, creates a {@link URLClassLoader} for
 *   it (parent: the host's loader), instantiates the module class, runs its {@code init}, and
 *   publishes it as a new {@code CurrentResource} under its name.</li>
 *   <li>{@link #tryModuleGet}: a lease on the current version ({@link CurrentResource#acquire()}:
 *   {@code tryGetLive}, retried on the new version if a reload killed the one it read), so callers
 *   never see a gap during a reload; empty once the module is unloaded.</li>
 *   <li>{@link #reload}: {@link CurrentResource#swap}: the new version becomes current, the old one is
 *   killed. {@link #unload}: unpublish the name, then {@link CurrentResource#close()}. Calls already
 *   holding a reference finish; the release action ({@code LoadedModule.unload}) then runs the
 *   module's {@code exit} and closes its class loader, once. With no reference left, nothing of the
 *   module is reachable and its classes can be unloaded by the garbage collector.</li>
 * </ul>
 * The kernel's {@code delete_module} refuses a module in use unless forced; this table instead
 * retires it without waiting (the returned stage completes at the release), which is what a
 * reload needs. Killing after unpublishing is the kernel's order ({@code kill_ioctx} does the same).
 *
 * <p>Thread-safety: every method may be called from any thread. Loads, reloads and unloads of the
 * same name should not race each other (last writer wins, and every version is still unloaded
 * exactly once); calls may race all of them.
 */
public final class ModuleTable implements AutoCloseable {

    /** How long {@link #close()} waits for the modules it unloads to be released. */
    private static final long CLOSE_TIMEOUT_SECONDS = 30;

    /** Loaded modules by name: each a holder of its current version. */
    private final ConcurrentHashMap<String, CurrentResource<LoadedModule>> published = new ConcurrentHashMap<>();
    /** Numbers the loads, for class loader names (unique across reloads of the same version). */
    private final AtomicLong generations = new AtomicLong();
    /** Calls that met a closed class loader, and unloads that found a call running: must stay 0. */
    private final LongAdder violations = new LongAdder();
    /** Tracks every loaded version and runs the unloads. */
    private final RefRegistry registry;

    /**
     * @param registry where the modules are registered; not shut down by {@link #close()}
     * @throws NullPointerException if {@code registry} is null
     */
    public ModuleTable(RefRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
        // A module's getResourceAsStream opens its jar through the JVM-wide jar cache, and closing a
        // URLClassLoader closes the cached JarFiles it used: two loaded versions of the same jar (a
        // reload back to an older version) would share one, and unloading the old one would break
        // reads of the new one. Uncached, each loader reads through its own JarFile.
        URLConnection.setDefaultUseCaches("jar", false);
    }

    /**
     * Loads the module jar {@code jar} and publishes it ({@code insmod}).
     *
     * @return its descriptor
     * @throws IllegalStateException    if a module of the same name is loaded ({@code EEXIST}); the
     *                                  new one is unloaded again
     * @throws IllegalArgumentException if the jar is not a module jar, or its class does not implement
     *                                  {@link LoadableModule} or is not in the jar
     * @throws IOException              if the jar cannot be read
     */
    public ModuleDescriptor load(Path jar) throws IOException {
        ModuleDescriptor d = ModuleDescriptor.read(jar);
        if (published.containsKey(d.name())) {
            throw new IllegalStateException("module '" + d.name() + "' is already loaded");
        }
        LoadedModule module = instantiate(d);
        CurrentResource<LoadedModule> holder;
        try {
            holder = registry.current(d.name(), module, LoadedModule::unload);
        } catch (RuntimeException e) {
            module.unload(); // never published: nobody can hold it
            throw e;
        }
        if (published.putIfAbsent(d.name(), holder) != null) {
            holder.close(); // lost a race with another load: unload ours (nobody can hold it)
            throw new IllegalStateException("module '" + d.name() + "' is already loaded");
        }
        return d;
    }

    /**
     * Loads the new version {@code jar} of a loaded module, publishes it in place of the current one
     * (calls from now on go to the new version), and retires the old one: killed now, unloaded when
     * its in-flight calls have returned.
     *
     * @return a stage that completes when the old version has been unloaded
     * @throws ModuleNotLoadedException if no module of the jar's name is loaded
     * @throws IllegalArgumentException if the jar is not a valid module jar
     * @throws IOException              if the jar cannot be read
     */
    public CompletionStage<Unloaded> reload(Path jar) throws IOException {
        ModuleDescriptor d = ModuleDescriptor.read(jar);
        CurrentResource<LoadedModule> holder = published.get(d.name());
        if (holder == null) {
            throw new ModuleNotLoadedException(d.name());
        }
        ManagedResource<LoadedModule> oldHandle = holder.current();
        LoadedModule old = peek(oldHandle).orElseThrow(() -> new ModuleNotLoadedException(d.name()));
        LoadedModule module = instantiate(d);
        long inFlight = oldHandle.info().inFlight(); // live: exact while no call starts or ends
        CompletionStage<Void> oldReleased;
        try {
            oldReleased = holder.swap(module); // the new version is current; the old one is killed
        } catch (IllegalStateException unloadedMeanwhile) {
            module.unload(); // never published: nobody can hold it
            throw new ModuleNotLoadedException(d.name());
        }
        return retired(old, oldHandle, inFlight, oldReleased);
    }

    /**
     * Unpublishes and unloads the module {@code name} ({@code rmmod}): from the moment this returns
     * no new reference is handed out; the module's exit runs and its class loader is closed once the
     * calls in flight have returned.
     *
     * @return a stage that completes when the module has been unloaded
     * @throws ModuleNotLoadedException if no module of that name is loaded
     */
    public CompletionStage<Unloaded> unload(String name) {
        CurrentResource<LoadedModule> holder = published.remove(Objects.requireNonNull(name, "name"));
        if (holder == null) {
            throw new ModuleNotLoadedException(name);
        }
        ManagedResource<LoadedModule> handle = holder.current();
        Optional<LoadedModule> module = peek(handle);
        long inFlight = handle.info().inFlight();
        CompletionStage<Void> released = holder.close(); // no new reference from here on
        return module.isPresent() ? retired(module.get(), handle, inFlight, released)
                : released.thenApply(r -> { // already killed by a registry shutdown
                    throw new ModuleNotLoadedException(name);
                });
    }

    /**
     * {@code try_module_get}: a reference on the module {@code name}, or empty if it is not loaded
     * or is being unloaded. During a reload it returns the new version or, if it got in first, a
     * real reference on the old one that the old version's unload waits for.
     *
     * @throws NullPointerException if {@code name} is null
     */
    public Optional<ModuleRef> tryModuleGet(String name) {
        CurrentResource<LoadedModule> holder = published.get(Objects.requireNonNull(name, "name"));
        return holder == null ? Optional.empty() : holder.tryAcquire().map(ModuleRef::new);
    }

    /** {@code module_put}: the same as {@link ModuleRef#close()}. */
    public void modulePut(ModuleRef ref) {
        Objects.requireNonNull(ref, "ref").close();
    }

    /**
     * Calls the module {@code name} under a reference: {@code try_module_get}, call,
     * {@code module_put}.
     *
     * @throws ModuleNotLoadedException if the module is not loaded or is being unloaded
     */
    public String call(String name, String argument) {
        try (ModuleRef ref = tryModuleGet(name).orElseThrow(() -> new ModuleNotLoadedException(name))) {
            return ref.call(argument);
        }
    }

    /** The published version of {@code name}, if loaded. */
    public Optional<ModuleDescriptor> descriptor(String name) {
        return tryModuleGet(name).map(ref -> {
            try (ref) {
                return ref.module();
            }
        });
    }

    /** The published modules, in name order; a moment's reading. */
    public List<ModuleDescriptor> loaded() {
        List<ModuleDescriptor> list = new ArrayList<>();
        for (String name : published.keySet()) {
            descriptor(name).ifPresent(list::add);
        }
        list.sort(Comparator.comparing(ModuleDescriptor::name));
        return list;
    }

    /** Calls that ran into a closed class loader, or unloads that found a call running: 0 unless broken. */
    public long violations() {
        return violations.sum();
    }

    /** Unloads every published module and waits up to 30 seconds for them to be released. */
    @Override
    public void close() {
        List<CompletableFuture<Unloaded>> stages = new ArrayList<>();
        for (String name : new ArrayList<>(published.keySet())) {
            try {
                stages.add(unload(name).toCompletableFuture());
            } catch (ModuleNotLoadedException raced) {
                // unloaded concurrently: that caller owns its stage
            }
        }
        try {
            CompletableFuture.allOf(stages.toArray(new CompletableFuture<?>[0])).get(CLOSE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("modules were not unloaded within " + CLOSE_TIMEOUT_SECONDS
                    + " seconds: " + registry.snapshot(), e);
        }
    }

    // ------------------------------------------------------------------------------------------

    /** Loads {@code d}'s jar in a new class loader and runs the module's init (unpublished). */
    private LoadedModule instantiate(ModuleDescriptor d) throws IOException {
        long generation = generations.incrementAndGet();
        URLClassLoader loader = new URLClassLoader("module " + d.name() + "-" + d.version() + "#" + generation,
                new URL[] {d.jar().toUri().toURL()}, LoadableModule.class.getClassLoader());
        try {
            Class<?> type = Class.forName(d.className(), true, loader);
            if (type.getClassLoader() != loader) {
                throw new IllegalArgumentException(d.className() + " of " + d.jar()
                        + " was loaded from the host's class path, not from the module jar");
            }
            if (!LoadableModule.class.isAssignableFrom(type)) {
                throw new IllegalArgumentException(d.className() + " of " + d.jar() + " does not implement "
                        + LoadableModule.class.getName());
            }
            LoadableModule instance = type.asSubclass(LoadableModule.class).getConstructor().newInstance();
            instance.init(); // module_init
            return new LoadedModule(d, generation, loader, instance, violations);
        } catch (ReflectiveOperationException | LinkageError e) {
            loader.close();
            throw new IllegalArgumentException("cannot load module " + d + " from " + d.jar() + ": " + e, e);
        } catch (RuntimeException e) {
            loader.close();
            throw e;
        }
    }

    /** The module a handle holds, read under a lease; empty if it is no longer live. */
    private static Optional<LoadedModule> peek(ManagedResource<LoadedModule> handle) {
        return handle.tryAcquire().map(lease -> {
            try (Lease<LoadedModule> l = lease) {
                return l.resource();
            }
        });
    }

    /**
     * What the retirement of {@code module} (just killed, with {@code inFlight} calls read just before
     * the kill) reports once it is unloaded. (Read after the kill, the in-flight count can include
     * the ref's initial reference for a moment, until the confirmation has dropped it.)
     */
    private static CompletionStage<Unloaded> retired(LoadedModule module, ManagedResource<LoadedModule> handle,
                                                     long inFlight, CompletionStage<Void> released) {
        return released.thenApply(r ->
                new Unloaded(module.descriptor, module.calls(), inFlight, handle.info().dyingFor()));
    }
}
