/**
 * Root hooks for the whole mocha run. All test files share one process and
 * one tfjs engine; a file that registers or removes backends (the backend
 * tests do) can leave the engine between backends. Before each test, make
 * sure some backend is initialised, as the kernel does at start.
 */
import * as tf from "@tensorflow/tfjs";

export const mochaHooks = {
  async beforeEach(): Promise<void> {
    await tf.ready();
  },
};
