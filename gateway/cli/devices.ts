import type { Command } from 'commander';
import { registerDevicesAdd } from './devices-add.ts';
import { registerDevicesList } from './devices-list.ts';
import { registerDevicesProvision } from './devices-provision.ts';

export function registerDevices(program: Command): void {
  const devices = program.command('devices').description('list, add and provision the site’s devices');
  registerDevicesList(devices, program);
  registerDevicesAdd(devices, program);
  registerDevicesProvision(devices, program);
}
