package io.percpuref.examples.modules;

import io.percpuref.registry.Lease;

/**
 * A reference on a loaded module, from {@link ModuleTable#tryModuleGet} ({@code try_module_get})
 * until {@link #close()} / {@link ModuleTable#modulePut} ({@code module_put}). While it is open the
 * module cannot be unloaded: an unload waits for it, and only then runs the module's exit and closes
 * its class loader. Use it in try-with-resources; closing twice is harmless.
 */
public final class ModuleRef implements AutoCloseable {

    private final Lease<LoadedModule> lease;

    ModuleRef(Lease<LoadedModule> lease) {
        this.lease = lease;
    }

    /** The module this reference is on. */
    public ModuleDescriptor module() {
        return lease.resource().descriptor;
    }

    /**
     * Calls the module's exported function.
     *
     * @throws IllegalStateException if this reference was closed
     */
    public String call(String argument) {
        return lease.resource().invoke(argument);
    }

    /**
     * The module's class loader, for diagnostics. Valid while this reference is open; keeping it
     * longer keeps the module's classes in memory after the unload.
     *
     * @throws IllegalStateException if this reference was closed
     */
    public ClassLoader classLoader() {
        return lease.resource().classLoader();
    }

    /** {@code module_put}: drops the reference, once. */
    @Override
    public void close() {
        lease.close();
    }

    @Override
    public String toString() {
        return "ModuleRef[" + lease + "]";
    }
}
