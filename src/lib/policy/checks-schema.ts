import { z } from 'zod';

/** Schedule for `borg-gate check`; filled in by the check runner. */
export const checksSchema = z.strictObject({});
