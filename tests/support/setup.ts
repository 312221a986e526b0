import 'reflect-metadata';
import { setPasswordCost } from '../../server/src/modules/identity/secrets';

// scrypt at production cost takes ~100 ms a hash; tests hash hundreds of passwords.
setPasswordCost(10);
