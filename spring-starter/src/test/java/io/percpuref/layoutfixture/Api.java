package io.percpuref.layoutfixture;

import io.percpuref.layoutfixture.a.A;

/** Fixture of StarterLayoutTests: a root type that depends on a subpackage. */
public class Api {

    A a;
}
